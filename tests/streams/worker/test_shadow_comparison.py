"""The live shadow comparison: exact figures on a batch built by hand, then through the
pipeline with fake models (a shadow that fails is counted missing, never compared)."""

from __future__ import annotations

import asyncio

import numpy as np

from streams.worker.metrics import Metrics, ShadowComparison, compare_shadow
from tests.support.fakes import (
    FailingModel,
    FakeFeatureStore,
    FixedModel,
    StaticRoutes,
    build_pipeline,
    event_records,
    event_rows,
    to_messages,
    weighted_sigmoid,
)
from tests.support.projects import FRAUD

DECIDER = FRAUD.decider("scorer")  # the fraud example's: review from 0.3, decline from 0.7
# k / 64 is exact in binary, in float32 as in float64: every delta below is exact.
PRIMARY = np.array([8, 16, 20, 40, 48, 60]) / 64  # approve approve review review decline decline
SHADOW = np.array([8, 24, 16, 48, 40, 60]) / 64  # approve review approve decline review decline


def compared(primary: np.ndarray, shadow: np.ndarray) -> ShadowComparison:
    return compare_shadow(
        primary, DECIDER.decide_scores(primary), shadow, DECIDER.decide_scores(shadow)
    )


def test_a_hand_made_batch_gives_exact_counts_and_delta() -> None:
    assert (DECIDER.names, DECIDER.bounds) == (("approve", "review", "decline"), (0.3, 0.7))
    assert DECIDER.decide_scores(PRIMARY).tolist() == [0, 0, 1, 1, 2, 2]
    assert DECIDER.decide_scores(SHADOW).tolist() == [0, 1, 0, 2, 1, 2]
    result = compared(PRIMARY, SHADOW)
    # Rows 1-4 change decision; |Δ| is 0, 8, 4, 8, 8, 0 sixty-fourths.
    assert result == ShadowComparison(compared=6, disagreements=4, abs_delta=28 / 64)
    assert compared(SHADOW, PRIMARY) == result  # symmetric
    assert compared(PRIMARY, PRIMARY) == ShadowComparison(6, 0, 0.0)
    f32 = compared(PRIMARY.astype(np.float32), SHADOW.astype(np.float32))
    assert f32 == result and type(f32.abs_delta) is float and type(f32.disagreements) is int


def test_a_small_score_change_across_a_threshold_is_a_disagreement() -> None:
    primary = np.array([0.2999, 0.6999, 0.5])
    shadow = np.array([0.3001, 0.7001, 0.5])
    result = compared(primary, shadow)
    assert (result.compared, result.disagreements) == (3, 2)
    assert abs(result.abs_delta - 0.0004) < 1e-12


def test_an_empty_batch_counts_nothing() -> None:
    empty = np.empty(0)
    assert compared(empty, empty) == ShadowComparison(0, 0, 0.0)


def test_metrics_add_up_over_batches_per_shadow() -> None:
    metrics = Metrics()
    metrics.count_shadow("scorer:2", compared(PRIMARY, SHADOW))
    metrics.count_shadow("scorer:2", compared(PRIMARY, PRIMARY))
    get = metrics.registry.get_sample_value
    model = {"model": "scorer:2"}
    assert get("streamscore_shadow_compared_total", model) == 12
    assert get("streamscore_shadow_disagreements_total", model) == 4
    assert get("streamscore_shadow_score_delta_total", model) == 28 / 64


def test_the_pipeline_compares_each_shadow_that_answered_with_the_primary() -> None:
    store = FakeFeatureStore.sampled(["e0", "e1", "e2"])

    def nudged(x: np.ndarray) -> np.ndarray:
        return np.clip(weighted_sigmoid(x) + 0.05, 0, 1)

    primary, shadow = FixedModel("scorer", "1"), FixedModel("scorer", "2", score_fn=nudged)
    down = FailingModel("challenger", "3")
    metrics = Metrics()
    pipeline = build_pipeline(store, StaticRoutes(primary, shadow, down), None, metrics)
    batches = [event_records(n, seed=seed) for n, seed in ((40, 1), (25, 2))]
    for records in batches:
        asyncio.run(pipeline.process(to_messages(records)))

    rows = np.vstack([event_rows(records, store) for records in batches])
    p, s = weighted_sigmoid(rows), nudged(rows)
    want_disagreements = int(np.sum(DECIDER.decide_scores(p) != DECIDER.decide_scores(s)))
    assert 0 < want_disagreements < 65  # the check below can tell a wrong count
    get = metrics.registry.get_sample_value
    assert get("streamscore_shadow_compared_total", {"model": "scorer:2"}) == 65
    assert get("streamscore_shadow_disagreements_total", {"model": "scorer:2"}) == (
        want_disagreements
    )
    delta = get("streamscore_shadow_score_delta_total", {"model": "scorer:2"})
    assert delta is not None and abs(delta - float(np.abs(s - p).sum())) < 1e-9
    # The failing shadow was never compared, only counted missing.
    assert get("streamscore_shadow_compared_total", {"model": "challenger:3"}) is None
    assert get("streamscore_shadow_missing_total", {"model": "challenger:3"}) == 65

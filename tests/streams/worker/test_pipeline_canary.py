"""The pipeline with a canary: each event decided by its arm, one request per model, a
failing canary leaves its rows to the primary. Fakes only; no service."""

from __future__ import annotations

import asyncio

import numpy as np

from streams.routing.split import arm_of
from streams.routing.state import RoutedModels
from streams.worker.metrics import Metrics
from tests.support.fakes import (
    PREDICTION_CODEC,
    FailingModel,
    FakeFeatureStore,
    FixedModel,
    StaticRoutes,
    build_pipeline,
    event_records,
    to_messages,
)

ENTITIES = [f"acct-{i}" for i in range(200)]


class CanaryRoutes(StaticRoutes):
    def __init__(self, models: RoutedModels) -> None:
        super().__init__(models.primary)
        self._models = models


def run(models: RoutedModels, n: int = 400) -> tuple[list[dict], Metrics]:
    metrics = Metrics()
    pipeline = build_pipeline(FakeFeatureStore(), CanaryRoutes(models), None, metrics)
    result = asyncio.run(pipeline.process(to_messages(event_records(n, entities=ENTITIES))))
    assert result.dead_letters == []
    return [PREDICTION_CODEC.decode(r.value) for r in result.predictions], metrics


def high(x: np.ndarray) -> np.ndarray:
    return np.full(len(x), 0.9)


def test_each_event_is_decided_by_its_arm_in_the_batch_order() -> None:
    primary, canary = FixedModel("scorer", "1"), FixedModel("scorer", "2", score_fn=high)
    outputs, metrics = run(RoutedModels(primary, (), canary, 30.0))
    ids = [p["event_id"] for p in outputs]
    assert ids == sorted(ids)  # event order kept
    for p in outputs:
        arm = arm_of(p["entity_id"], 30.0)
        assert p["role"] == arm
        assert p["model_version"] == ("2" if arm == "canary" else "1")
        assert (p["decision"] == "decline") == (arm == "canary" or p["score"] >= 0.7)
    on_canary = sum(p["role"] == "canary" for p in outputs)
    assert 0 < on_canary < len(outputs)
    # one request each: the primary scores every row (the shadows' baseline), the canary its own
    assert primary.shapes[0][0] == 400 and canary.shapes[0][0] == on_canary
    decided = metrics.registry.get_sample_value
    assert (
        decided("streamscore_decided_total", {"model": "scorer:2", "role": "canary"}) == on_canary
    )


def test_a_canary_that_is_also_a_shadow_is_asked_once() -> None:
    primary, canary = FixedModel("scorer", "1"), FixedModel("scorer", "2", score_fn=high)
    metrics = Metrics()
    routes = CanaryRoutes(RoutedModels(primary, (canary,), canary, 50.0))
    pipeline = build_pipeline(FakeFeatureStore(), routes, None, metrics)
    result = asyncio.run(pipeline.process(to_messages(event_records(100, entities=ENTITIES))))
    assert canary.calls == 1 and canary.shapes[0][0] == 100
    shadow = [PREDICTION_CODEC.decode(r.value) for r in result.shadow]
    assert len(shadow) == 100 and {p["role"] for p in shadow} == {"shadow"}
    roles = {PREDICTION_CODEC.decode(r.value)["role"] for r in result.predictions}
    assert roles == {"primary", "canary"}


def test_a_failing_canary_leaves_its_rows_to_the_primary() -> None:
    primary, canary = FixedModel("scorer", "1"), FailingModel("scorer", "2")
    outputs, metrics = run(RoutedModels(primary, (), canary, 50.0), n=100)
    assert len(outputs) == 100
    assert {(p["role"], p["model_version"]) for p in outputs} == {("primary", "1")}
    fallback = metrics.registry.get_sample_value(
        "streamscore_canary_fallback_total", {"model": "scorer:2"}
    )
    assert fallback is not None and 0 < fallback < 100

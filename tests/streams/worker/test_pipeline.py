"""ScoringPipeline.process on one micro-batch, with fake models, store and routes.

Real codecs and the real pipeline; no Kafka, Redis or Triton. Checks what the models saw,
what the predictions say (decoded with codec_for("prediction")), the dead letters, and the
failure policy: failing shadow, failing primary, store down, routing swapped mid-batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml

from inference.errors import InferenceError
from schemas.project import Project, load_project
from streams.features.store import FeatureStoreError
from streams.worker.messages import BatchResult, InMessage
from streams.worker.metrics import Metrics
from streams.worker.pipeline import PipelineConfig
from tests.support.fakes import (
    N_EVENT,
    N_FEATURES,
    FailingModel,
    FakeFeatureStore,
    FixedModel,
    SlowModel,
    StaticRoutes,
    build_pipeline,
    decode_predictions,
    event_records,
    event_rows,
    to_messages,
    weighted_sigmoid,
)
from tests.support.projects import DEFAULTS, FRAUD, derived

ENTITIES = ("e0", "e1", "e2", "ghost")  # "ghost" has no stored vector


def run(
    store: FakeFeatureStore,
    routes: StaticRoutes,
    messages: Sequence[InMessage],
    config: PipelineConfig | None = None,
    metrics: Metrics | None = None,
    project: Project = FRAUD,
) -> BatchResult:
    pipeline = build_pipeline(store, routes, config, metrics, project)
    return asyncio.run(pipeline.process(messages))


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def decision(score: float, project: Project = FRAUD) -> str:
    """The fraud example's decision of a score, written out (its file: 0.3 and 0.7)."""
    thresholds = project.default_model.decisions.thresholds  # type: ignore[union-attr]
    if score >= thresholds["decline"]:
        return "decline"
    return "review" if score >= thresholds["review"] else "approve"


def with_thresholds(folder: Path, review: float, decline: float) -> Project:
    """The fraud example with other thresholds in its file."""
    models = yaml.safe_load(FRAUD.path.read_text())["models"]
    models[0]["decisions"]["thresholds"] = {"review": review, "decline": decline}
    return load_project(derived("fraud", folder, {"models": models}))


def inverse(x: np.ndarray) -> np.ndarray:
    return 1.0 - weighted_sigmoid(x)


def test_predictions_carry_what_the_primary_computed_for_exactly_the_rows() -> None:
    store = FakeFeatureStore.sampled(ENTITIES[:3])
    primary = FixedModel("scorer", "3")
    challenger = FixedModel("challenger", "7", score_fn=inverse)
    candidate = FixedModel("candidate", "1", score_fn=lambda x: x[:, 7].astype(np.float64))
    routes = StaticRoutes(primary, challenger, candidate)
    records = event_records(9, seed=8, entities=ENTITIES)
    metrics = Metrics()
    result = run(store, routes, to_messages(records), metrics=metrics)

    rows = event_rows(records, store)
    assert rows[:, N_EVENT:][3].tolist() == DEFAULTS.tolist()  # ghost → defaults
    for model in (primary, challenger, candidate):
        assert model.shapes == [(9, N_FEATURES)]
        np.testing.assert_array_equal(model.batches[0], rows)
    assert routes.reads == 1

    predictions = decode_predictions(r.value for r in result.predictions)
    assert [p["event_id"] for p in predictions] == [r["event_id"] for r in records]
    assert [p["entity_id"] for p in predictions] == [r["entity_id"] for r in records]
    assert [p["event_time"] for p in predictions] == [r["event_time"] for r in records]
    assert {(p["model_name"], p["model_version"]) for p in predictions} == {("scorer", "3")}
    expected = weighted_sigmoid(rows)
    assert [p["score"] for p in predictions] == expected.tolist()
    assert len(set(expected.tolist())) == 9  # the check above tells rows apart
    decisions = [decision(s) for s in expected]
    assert [p["decision"] for p in predictions] == decisions
    assert set(decisions) == {"approve", "review", "decline"}
    ghost = [r["entity_id"] == "ghost" for r in records]
    assert [p["features_missing"] for p in predictions] == ghost
    assert [r.key for r in result.predictions] == [r["entity_id"].encode() for r in records]
    assert result.features_missing == sum(ghost) == 2
    assert metric(metrics, "streamscore_features_missing_total", cause="unknown-entity") == 2

    shadow = decode_predictions(r.value for r in result.shadow)
    by_model = {m.label: [p for p in shadow if f"{p['model_name']}:{p['model_version']}" == m.label]
                for m in (challenger, candidate)}  # fmt: skip
    assert len(shadow) == 18
    assert [p["score"] for p in by_model["challenger:7"]] == inverse(rows).tolist()
    assert [p["score"] for p in by_model["candidate:1"]] == rows[:, 7].astype(float).tolist()
    assert [p["event_id"] for p in by_model["candidate:1"]] == [r["event_id"] for r in records]
    assert (result.dead_letters, result.shadow_missing) == ([], {})


@pytest.mark.parametrize(
    ("review", "decline", "amounts", "expected"),
    [
        (0.3, 0.7, [0, 29, 30, 69, 70, 100], "AARRDD"),  # A approve, R review, D decline
        (0.2, 0.5, [10, 19.5, 20, 49.5, 50, 80], "AARRDD"),
        (0.5, 0.5, [0, 49, 50, 99, 1, 60], "AADDAD"),
    ],
)
def test_decisions_follow_the_thresholds(
    review: float, decline: float, amounts: list[float], expected: str, tmp_path: Path
) -> None:
    """The thresholds of the project file decide (the fraud example, its thresholds changed)."""
    project = with_thresholds(tmp_path, review, decline)
    records = event_records(len(amounts))
    for record, amount in zip(records, amounts, strict=True):
        record["amount"] = float(amount)
    primary = FixedModel(score_fn=lambda x: x[:, 0].astype(np.float64) / 100)
    messages = to_messages(records)
    result = run(FakeFeatureStore(), StaticRoutes(primary), messages, project=project)
    predictions = decode_predictions(r.value for r in result.predictions)
    assert [p["score"] for p in predictions] == [a / 100 for a in amounts]
    words = {"A": "approve", "R": "review", "D": "decline"}
    assert [p["decision"] for p in predictions] == [words[c] for c in expected]


def test_one_store_read_and_one_concurrent_request_per_model_per_batch() -> None:
    trace: list[tuple[str, str]] = []
    primary = SlowModel("scorer", "1", delay=0.02, trace=trace)
    shadows = [SlowModel(f"shadow{i}", "1", delay=0.02, trace=trace) for i in range(2)]
    store = FakeFeatureStore.sampled(ENTITIES[:3])
    routes = StaticRoutes(primary, *shadows)
    pipeline = build_pipeline(store, routes)
    batches = [event_records(n, seed=n, entities=ENTITIES) for n in (5, 1, 8)]

    async def main() -> list[BatchResult]:
        return [await pipeline.process(to_messages(b)) for b in batches]

    results = asyncio.run(main())
    assert store.requests == [[r["entity_id"] for r in b] for b in batches]
    for model in (primary, *shadows):
        assert model.shapes == [(5, N_FEATURES), (1, N_FEATURES), (8, N_FEATURES)]
    assert routes.reads == 3
    assert [len(r.predictions) for r in results] == [5, 1, 8]
    assert [len(r.shadow) for r in results] == [10, 2, 16]
    # the three requests of a batch overlap: all started before any finished
    for batch in range(3):
        kinds = [kind for kind, _ in trace[6 * batch : 6 * batch + 6]]
        assert kinds == ["start"] * 3 + ["end"] * 3


def test_bad_bytes_become_dead_letters_and_the_rest_is_scored() -> None:
    records = event_records(6, entities=ENTITIES[:3])
    messages = to_messages(records, partition=2, offset=100)
    bad = {
        1: b"",
        3: messages[3].value[:-4],
        4: b"\x00\x00\x00\x00\x07" + b"junk" * 4,
        5: b"\xc3\x01" + bytes(8) + messages[5].value[10:],
    }
    for i, value in bad.items():
        messages[i] = dataclasses.replace(messages[i], value=value)
    store, primary, metrics = FakeFeatureStore.sampled(ENTITIES[:3]), FixedModel(), Metrics()
    result = run(store, StaticRoutes(primary), messages, metrics=metrics)

    reasons = {d.message.offset: d.reason for d in result.dead_letters}
    assert reasons == {101: "empty", 103: "truncated", 104: "bad-magic", 105: "unknown-schema"}
    assert all(d.error_class == "DecodeError" for d in result.dead_letters)
    assert [d.message for d in result.dead_letters] == [messages[i] for i in sorted(bad)]
    good = [records[0], records[2]]
    predictions = decode_predictions(r.value for r in result.predictions)
    assert [p["event_id"] for p in predictions] == [r["event_id"] for r in good]
    assert store.requests == [["e0", "e2"]]
    np.testing.assert_array_equal(primary.batches[0], event_rows(good, store))
    assert metric(metrics, "streamscore_dlq_total", reason="truncated") == 1
    assert metric(metrics, "streamscore_dlq_total", reason="empty") == 1


def test_nothing_decodable_reads_no_features_and_calls_no_model() -> None:
    messages = to_messages(event_records(2))
    messages = [dataclasses.replace(m, value=b"nope-not-avro") for m in messages]
    store, primary = FakeFeatureStore(), FixedModel()
    result = run(store, StaticRoutes(primary), messages)
    assert [d.reason for d in result.dead_letters] == ["bad-magic", "bad-magic"]
    assert (store.calls, primary.calls, result.predictions) == (0, 0, [])


def test_failing_shadow_is_counted_missing_and_the_primary_goes_on() -> None:
    primary, broken = FixedModel("scorer", "1"), FailingModel("challenger", "2")
    healthy = FixedModel("candidate", "5", score_fn=inverse)
    records, metrics = event_records(4), Metrics()
    routes = StaticRoutes(primary, broken, healthy)
    result = run(FakeFeatureStore(), routes, to_messages(records), metrics=metrics)
    predictions = decode_predictions(r.value for r in result.predictions)
    assert [p["event_id"] for p in predictions] == [r["event_id"] for r in records]
    assert {p["model_name"] for p in predictions} == {"scorer"}
    shadow = decode_predictions(r.value for r in result.shadow)
    assert [(p["model_name"], p["model_version"]) for p in shadow] == [("candidate", "5")] * 4
    assert result.shadow_missing == {"challenger:2": 4}
    assert metric(metrics, "streamscore_shadow_missing_total", model="challenger:2") == 4
    assert metric(metrics, "streamscore_shadow_missing_total", model="candidate:5") == 0
    assert broken.calls == 1


def test_failing_primary_raises_and_outputs_nothing() -> None:
    primary, metrics = FailingModel("scorer", "1", failures=1), Metrics()
    routes = StaticRoutes(primary, FixedModel("shadow"))
    pipeline = build_pipeline(FakeFeatureStore(), routes, None, metrics)
    messages = to_messages(event_records(3))
    with pytest.raises(InferenceError, match="scorer:1"):
        asyncio.run(pipeline.process(messages))
    assert metric(metrics, "streamscore_primary_failures_total") == 1
    again = asyncio.run(pipeline.process(messages))  # the same batch, once the model is back
    assert (primary.failed, primary.calls, len(again.predictions)) == (1, 2, 3)


def test_store_down_scores_with_defaults_and_flags_every_prediction() -> None:
    store = FakeFeatureStore.sampled(ENTITIES[:3])
    store.down = True
    primary, records, metrics = FixedModel(), event_records(5, entities=ENTITIES[:3]), Metrics()
    result = run(store, StaticRoutes(primary), to_messages(records), metrics=metrics)
    seen = primary.batches[0]
    np.testing.assert_array_equal(seen[:, N_EVENT:], np.tile(DEFAULTS, (5, 1)))
    np.testing.assert_array_equal(seen[:, :N_EVENT], event_rows(records, store)[:, :N_EVENT])
    predictions = decode_predictions(r.value for r in result.predictions)
    assert [p["features_missing"] for p in predictions] == [True] * 5
    assert [p["score"] for p in predictions] == weighted_sigmoid(seen).tolist()
    assert result.features_missing == 5
    assert metric(metrics, "streamscore_features_missing_total", cause="store-down") == 5


def test_store_down_with_backpressure_raises() -> None:
    store, primary = FakeFeatureStore(), FixedModel()
    store.down = True
    config = PipelineConfig(on_store_down="backpressure")
    with pytest.raises(FeatureStoreError):
        run(store, StaticRoutes(primary), to_messages(event_records(3)), config)
    assert (store.calls, primary.calls) == (1, 0)


def test_routing_swapped_mid_batch_keeps_the_batch_on_its_snapshot() -> None:
    new_primary = FixedModel("scorer", "2", score_fn=inverse)
    new_shadow = FixedModel("challenger", "9")
    routes: StaticRoutes

    def swap(model: FixedModel, batch: np.ndarray) -> None:
        if model.calls == 1:
            routes.swap(new_primary, new_shadow)

    old_primary = SlowModel("scorer", "1", delay=0.01, on_predict=swap)
    old_shadow = SlowModel("challenger", "8", delay=0.01, score_fn=inverse)
    routes = StaticRoutes(old_primary, old_shadow)
    pipeline = build_pipeline(FakeFeatureStore(), routes)
    first, second = event_records(4), event_records(3)

    async def main() -> list[BatchResult]:
        return [await pipeline.process(to_messages(records)) for records in (first, second)]

    one, two = asyncio.run(main())
    assert routes.models.primary is new_primary  # swapped while batch one was being scored
    before = decode_predictions(r.value for r in one.predictions)
    assert {(p["model_name"], p["model_version"]) for p in before} == {("scorer", "1")}
    assert [p["score"] for p in before] == weighted_sigmoid(old_primary.batches[0]).tolist()
    shadow = decode_predictions(r.value for r in one.shadow)
    assert {(p["model_name"], p["model_version"]) for p in shadow} == {("challenger", "8")}
    assert (new_primary.calls, new_shadow.calls) == (1, 1)  # only for the second batch

    after = decode_predictions(r.value for r in two.predictions)
    assert {(p["model_name"], p["model_version"]) for p in after} == {("scorer", "2")}
    assert [p["score"] for p in after] == inverse(new_primary.batches[0]).tolist()
    assert (old_primary.calls, old_shadow.calls) == (1, 1)


def test_non_finite_features_become_invalid_value_dead_letters() -> None:
    vectors = {"e0": DEFAULTS + 1, "broken": np.full(len(DEFAULTS), np.nan)}
    store, primary, metrics = FakeFeatureStore(vectors), FixedModel(), Metrics()
    records = event_records(7, entities=("e0",))
    records[2]["amount"] = float("nan")
    records[4]["session_seconds"] = float("inf")
    records[5]["entity_id"] = "broken"  # a NaN in the stored entity features
    messages = to_messages(records, offset=10)
    messages[0] = dataclasses.replace(messages[0], value=b"")  # shifts the decoded records
    result = run(store, StaticRoutes(primary), messages, metrics=metrics)

    letters = result.dead_letters
    assert [d.message for d in letters] == [messages[i] for i in (0, 2, 4, 5)]
    assert [d.reason for d in letters] == ["empty"] + ["invalid-value"] * 3
    assert {d.error_class for d in letters[1:]} == {"InvalidEvent"}
    good = [records[1], records[3], records[6]]
    predictions = decode_predictions(r.value for r in result.predictions)
    assert [p["event_id"] for p in predictions] == [r["event_id"] for r in good]
    assert np.isfinite(primary.batches[0]).all()
    np.testing.assert_array_equal(primary.batches[0], event_rows(good, store))
    assert metric(metrics, "streamscore_dlq_total", reason="invalid-value") == 3

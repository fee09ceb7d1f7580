"""What a prediction carries besides its score: every output of the model (``outputs``), the
event fields the project passes through (``attributes``) and the stale flag, on every path
(primary, shadow, canary). Real codecs and pipeline over fakes; no service."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
import yaml

from schemas.project import FieldColumns, Project, load_project
from streams.features.store import VectorLayout
from streams.routing.split import arm_of
from streams.routing.state import RoutedModels
from streams.worker.messages import BatchResult, InMessage
from streams.worker.metrics import Metrics
from tests.support.fakes import (
    FakeFeatureStore,
    FixedModel,
    StaticRoutes,
    build_pipeline,
    decode_predictions,
    event_records,
    event_rows,
    to_messages,
)
from tests.support.projects import FRAUD, derived, example, project_codec

CLASSES = ("low", "mid", "high")
ATTRIBUTES = ["segment", "items", "is_foreign", "amount"]  # string, int, boolean, double
ENTITIES = [f"acct-{i}" for i in range(40)]


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The fraud example as a three-class model that passes four event fields through."""
    models = yaml.safe_load(FRAUD.path.read_text())["models"]
    models[0].update(
        task="multiclass",
        classes=list(CLASSES),
        output={"name": "probabilities", "dims": [3]},
        decisions={"min_probability": 0.5, "otherwise": "unsure"},
    )
    changes = {"models": models, "events": {"attributes": ATTRIBUTES}, "gates": {"golden": None}}
    folder = tmp_path_factory.mktemp("multiclass")
    return load_project(derived("fraud", folder, changes, name="fraud-classes"))


def softmax(x: np.ndarray, seed: int) -> np.ndarray:
    """Three class probabilities per row, from fixed weights (float64)."""
    weights = np.random.default_rng(seed).normal(0.0, 1.0, (x.shape[1], 3))
    logs = np.log1p(np.abs(x.astype(np.float64)))
    sums = np.zeros((len(x), 3))
    for j in range(x.shape[1]):  # column by column: a row's figures never depend on the batch
        sums += logs[:, j : j + 1] * weights[j]
    logits = 2.0 * np.sin(sums)  # spread over every class, and under 0.5 at times
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


class ClassModel(FixedModel):
    """A fake model with three outputs per row."""

    def __init__(self, name: str, version: str, seed: int) -> None:
        super().__init__(name, version)
        self.seed = seed

    async def _score(self, batch: np.ndarray) -> np.ndarray:
        return softmax(batch, self.seed)


class Routes(StaticRoutes):
    def __init__(self, models: RoutedModels) -> None:
        super().__init__(models.primary)
        self._models = models


def run(
    project: Project, store: FakeFeatureStore, models: RoutedModels, records: list[Any]
) -> BatchResult:
    pipeline = build_pipeline(store, Routes(models), None, Metrics(), project)
    result = asyncio.run(pipeline.process(to_messages(records)))
    assert result.dead_letters == []
    return result


def expected_attributes(record: dict[str, Any]) -> dict[str, str]:
    out = {
        "items": str(record["items"]),
        "is_foreign": "true" if record["is_foreign"] else "false",
        "amount": repr(float(record["amount"])),
    }
    if record["segment"] is not None:
        out["segment"] = record["segment"]
    return out


def decision(probabilities: np.ndarray) -> str:
    top = int(np.argmax(probabilities))
    return CLASSES[top] if probabilities[top] >= 0.5 else "unsure"


def test_three_outputs_and_four_attributes_on_every_path(multiclass: Project) -> None:
    records = event_records(120, seed=3, entities=ENTITIES)
    for i, record in enumerate(records):
        record["segment"] = (None, "retail", "gaming")[i % 3]
    store = FakeFeatureStore.sampled(ENTITIES[:30])  # the last ten: no vector
    primary, canary, shadow = (ClassModel("scorer", v, seed=int(v)) for v in ("1", "2", "3"))
    result = run(multiclass, store, RoutedModels(primary, (shadow,), canary, 40.0), records)
    rows = event_rows(records, store)
    by_id = {r["event_id"]: i for i, r in enumerate(records)}

    predictions = decode_predictions(r.value for r in result.predictions)
    shadows = decode_predictions(r.value for r in result.shadow)
    assert [p["event_id"] for p in predictions] == [r["event_id"] for r in records]
    assert [p["event_id"] for p in shadows] == [r["event_id"] for r in records]
    roles = {p["role"] for p in predictions}
    assert roles == {"primary", "canary"}  # both arms ran: the canary's rows were picked
    seen = set()
    for p in [*predictions, *shadows]:
        i = by_id[p["event_id"]]
        record = records[i]
        model = {"primary": primary, "canary": canary, "shadow": shadow}[p["role"]]
        if p["role"] != "shadow":
            assert p["role"] == arm_of(record["entity_id"], 40.0)
        assert (p["model_name"], p["model_version"]) == ("scorer", model.version)
        want = softmax(rows[i : i + 1], model.seed)[0]
        assert p["outputs"] == want.tolist()  # every class's probability, in class order
        assert p["score"] == want.max()
        assert p["decision"] == decision(want)
        assert p["attributes"] == expected_attributes(record)
        assert p["features_missing"] == (record["entity_id"] not in store.vectors)
        assert p["features_stale"] is False
        seen.add(p["decision"])
    assert (
        "segment" in predictions[1]["attributes"] and "segment" not in predictions[0]["attributes"]
    )
    assert seen == {*CLASSES, "unsure"}  # the checks above can tell decisions apart


def test_stale_vectors_are_flagged_on_the_rows_they_belong_to(multiclass: Project) -> None:
    layout = VectorLayout.of(multiclass)
    assert layout.ttl_ms is not None
    store = FakeFeatureStore.sampled(ENTITIES[:20])
    old = {e for e in ENTITIES[:20] if int(e.split("-")[1]) % 2}
    for entity in old:  # written long before the ttl
        store.packed[entity] = layout.pack(store.vectors[entity], updated_at_ms=0)
    records = event_records(80, seed=4, entities=ENTITIES[:20])
    primary, canary = ClassModel("scorer", "1", seed=1), ClassModel("scorer", "2", seed=2)
    result = run(multiclass, store, RoutedModels(primary, (), canary, 50.0), records)
    predictions = decode_predictions(r.value for r in result.predictions)
    assert {p["role"] for p in predictions} == {"primary", "canary"}
    stale = [r["entity_id"] in old for r in records]
    assert [p["features_stale"] for p in predictions] == stale
    assert not any(p["features_missing"] for p in predictions)
    assert any(stale) and not all(stale)
    # A stale row was scored on the view's defaults.
    seen = primary.batches[0]
    for i, flag in enumerate(stale):
        if flag:
            np.testing.assert_array_equal(seen[i, -layout.width :], layout.defaults)


def test_a_regression_with_a_text_attribute() -> None:
    """The delivery example: one output (the minutes), the store it was picked up from."""
    project = example("delivery")
    codec = project_codec(project, "event", logical_types=False)
    layout = VectorLayout.of(project)
    rng = np.random.default_rng(0)
    couriers = [f"courier-{i}" for i in range(5)]
    store = FakeFeatureStore(
        {c: project.feature_defaults + rng.random(layout.width) for c in couriers[:4]}, layout
    )
    records = [
        {"order_id": f"o-{i}", "courier_id": couriers[i % 5], "placed_at": 1_700_000_000_000 + i,
         "store_id": f"s-{i % 3}", "distance_km": 1.0 + i, "items": 1 + i % 4,
         "channel": ("web", "app", "phone", "kiosk")[i % 4], "is_express": i % 2 == 0,
         "hour": i % 24, "tip": None if i % 2 else 1.5}
        for i in range(12)
    ]  # fmt: skip
    messages = [
        InMessage(r["courier_id"].encode(), codec.encode(r), "orders", 0, i)
        for i, r in enumerate(records)
    ]
    minutes = FixedModel("eta", "1", score_fn=lambda x: x.astype(np.float64).sum(axis=1))
    pipeline = build_pipeline(store, StaticRoutes(minutes), None, Metrics(), project)
    result = asyncio.run(pipeline.process(messages))
    assert result.dead_letters == []
    predictions = decode_predictions(r.value for r in result.predictions)
    decider = project.decider("eta")
    values = minutes.score_fn(minutes.batches[0]).tolist()
    for p, record, value in zip(predictions, records, values, strict=True):
        assert (p["event_id"], p["entity_id"]) == (record["order_id"], record["courier_id"])
        assert p["outputs"] == [value]
        assert p["score"] == value
        assert p["decision"] == decider.names_of(decider.decide_scores(np.array([value])))[0]
        assert p["attributes"] == {"store_id": record["store_id"]}
        assert p["features_missing"] == (record["courier_id"] == "courier-4")
    # The row the model saw is the project's layout of the order and its courier's vector.
    columns = FieldColumns.of_records(
        records, project.layout.number_fields, project.layout.text_fields
    )
    features = np.stack([store.layout.unpack_many([store.packed.get(r["courier_id"])]).values[0]
                         for r in records])  # fmt: skip
    np.testing.assert_array_equal(minutes.batches[0], project.layout.matrix(columns, features))

"""The pipeline counts what the primary saw and said into drift windows, nothing else."""

from __future__ import annotations

import asyncio

import numpy as np

from drift.reference import SCORE, Reference
from drift.summary import WindowAccumulator
from drift.windows import WindowConfig
from streams.worker.messages import InMessage
from tests.support.fakes import (
    FakeFeatureStore,
    FixedModel,
    StaticRoutes,
    build_pipeline,
    event_records,
    to_messages,
)
from tests.support.projects import FRAUD, sample_features, true_probability

T0_MS = 1_767_225_600_000  # a window boundary
WATCHED = (*FRAUD.layout.columns, SCORE)  # what a reference of the fraud example watches


class Known:
    def __init__(self) -> None:
        x = sample_features(np.random.default_rng(0), 5_000)
        self.reference = Reference.build(x, true_probability(x), inputs=FRAUD.layout.columns)

    def get(self, name: str, version: str) -> Reference | None:
        return self.reference if (name, version) == ("scorer", "3") else None


def test_each_scored_event_is_counted_under_the_primary_and_its_partition() -> None:
    records = event_records(6, entities=["known", "ghost"], t0_ms=T0_MS)
    records[4]["amount"] = float("nan")  # dead-lettered: never counted
    messages = to_messages(records[:3], partition=0) + to_messages(records[3:], partition=2)
    pipeline = build_pipeline(
        FakeFeatureStore({"known": np.ones(8)}),
        StaticRoutes(FixedModel("scorer", "3"), FixedModel("challenger", "1")),
    )
    monitor = pipeline.monitor = WindowAccumulator(
        Known(),
        WindowConfig(),
        producer="w",
        feature_columns=FRAUD.layout.feature_columns,
    )
    result = asyncio.run(pipeline.process(messages))
    assert len(result.predictions) == 5 and len(result.dead_letters) == 1

    (summary,) = monitor.drain()
    assert (summary["model_name"], summary["model_version"]) == ("scorer", "3")
    assert summary["events"] == 5
    assert summary["features_missing"] == 3  # "ghost" events 1, 3 and 5 (4 is dead)
    counts = np.asarray(summary["counts"]).reshape(len(WATCHED), -1)
    assert counts[WATCHED.index("amount")].sum() == 5
    assert counts[WATCHED.index("avg_amount_30d")].sum() == 2  # entity columns: found only
    assert sum(summary["decisions"]) == 5
    # Partition 0 read up to event 2, partition 2 up to event 5: the slower one holds it.
    assert summary["watermark"] == T0_MS + 2


def test_a_version_without_a_reference_is_scored_and_counted_unmonitored() -> None:
    pipeline = build_pipeline(FakeFeatureStore({}), StaticRoutes(FixedModel("scorer", "9")))
    pipeline.monitor = WindowAccumulator(
        Known(),
        WindowConfig(),
        producer="w",
        feature_columns=FRAUD.layout.feature_columns,
    )
    messages: list[InMessage] = to_messages(event_records(4, t0_ms=T0_MS))
    result = asyncio.run(pipeline.process(messages))
    assert len(result.predictions) == 4
    assert pipeline.monitor.drain() == [] and pipeline.monitor.unmonitored == 4
    assert pipeline.metrics.drift_unmonitored._value.get() == 4

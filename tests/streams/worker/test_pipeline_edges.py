"""Edges of the pipeline's failure policy: a shadow that breaks in any way, a batch that has
nothing left to score. Fakes only; no service."""

from __future__ import annotations

import asyncio

import numpy as np

from streams.worker.metrics import Metrics
from tests.support.fakes import (
    FakeFeatureStore,
    FixedModel,
    StaticRoutes,
    build_pipeline,
    event_records,
    to_messages,
)


def test_a_shadow_that_raises_anything_is_counted_missing_and_never_stops_the_primary() -> None:
    def broken(model: FixedModel, batch: np.ndarray) -> None:
        raise ValueError("a shadow with a bug")

    primary = FixedModel("scorer", "1")
    shadow = FixedModel("challenger", "2", on_predict=broken)
    metrics = Metrics()
    pipeline = build_pipeline(FakeFeatureStore(), StaticRoutes(primary, shadow), None, metrics)
    result = asyncio.run(pipeline.process(to_messages(event_records(5))))
    assert len(result.predictions) == 5 and result.dead_letters == []
    assert result.shadow == [] and result.shadow_missing == {"challenger:2": 5}
    assert (
        metrics.registry.get_sample_value(
            "streamscore_shadow_missing_total", {"model": "challenger:2"}
        )
        == 5
    )
    assert metrics.registry.get_sample_value("streamscore_primary_failures_total") == 0


def test_a_batch_of_only_non_finite_events_asks_no_model() -> None:
    records = event_records(3)
    for record in records:
        record["amount"] = float("nan")
    primary = FixedModel()
    pipeline = build_pipeline(FakeFeatureStore(), StaticRoutes(primary), None, Metrics())
    result = asyncio.run(pipeline.process(to_messages(records)))
    assert [d.reason for d in result.dead_letters] == ["invalid-value"] * 3
    assert (primary.calls, result.predictions) == (0, [])

"""observe_many: one numpy pass per batch gives the series a Python observe per value gives."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram

from infra.metrics import observe_many

BUCKETS = (0.001, 0.005, 0.01, 0.1, 1.0)


def series(registry: CollectorRegistry) -> dict[str, float]:
    return {
        f"{s.name}{s.labels}": s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_a_batch_lands_in_the_buckets_one_observe_per_value_would_fill() -> None:
    rng = np.random.default_rng(3)
    # values on the bounds (le is inclusive), between them, past the last one, and zero
    values = np.concatenate([np.array(BUCKETS), rng.exponential(0.05, 500), [0.0, 7.5]])
    one_by_one, at_once = CollectorRegistry(), CollectorRegistry()
    expected = Histogram("latency", "doc", buckets=BUCKETS, registry=one_by_one)
    for v in values:
        expected.observe(float(v))
    observe_many(Histogram("latency", "doc", buckets=BUCKETS, registry=at_once), values)
    want, got = series(one_by_one), series(at_once)
    assert want.keys() == got.keys()
    for name, value in want.items():
        if "_sum" in name:  # summed in another order
            assert abs(got[name] - value) <= 1e-9 * abs(value), name
        else:  # every bucket and the count exactly
            assert got[name] == value, name


def test_an_empty_batch_observes_nothing() -> None:
    registry = CollectorRegistry()
    observe_many(Histogram("latency", "doc", buckets=BUCKETS, registry=registry), np.empty(0))
    assert series(registry)["latency_count{}"] == 0

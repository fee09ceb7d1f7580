"""The Grafana dashboard reads only what is exported, and a running worker exports its part.

The names come from the code (streams/worker/metrics.py, drift/metrics.py,
streams/retraining/metrics.py and streams/guard/metrics.py register each metric once, with
its labels), never from a list copied here; Triton's own metric is read from the real Triton.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from drift.metrics import DriftMetrics
from infra.settings import ServicesSettings
from streams.guard.metrics import GuardMetrics
from streams.retraining.metrics import RetrainingMetrics
from streams.routing import ModelRef, Routing
from streams.routing.state import Canary
from streams.worker.metrics import Metrics
from tests.support.dashboard import dashboard_reads, exposed, metrics_and_groupings
from tests.support.events import make_events
from tests.support.kafka import create_topics, predictions, produce, produce_events
from tests.support.models import DEFAULT_MODEL, export_model, set_routing
from tests.support.waiting import wait_for

DASHBOARD = Path(__file__).resolve().parents[2] / "infra/grafana/dashboards/streamscore.json"
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
TRITON_PREFIX = "nv_"  # Triton's own metrics, scraped from Triton itself


def exported() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every metric of the worker, the drift agent, the retraining worker and the guard."""
    sets = (Metrics(), DriftMetrics(), RetrainingMetrics(), GuardMetrics())
    merged: dict[str, tuple[str, tuple[str, ...]]] = {}
    for metric_set in sets:
        names = metric_set.exported()
        assert not set(names) & set(merged), f"exported twice: {set(names) & set(merged)}"
        merged.update(names)
    return merged


def series_of_the_code(
    metrics: dict[str, tuple[str, tuple[str, ...]]] | None = None,
) -> dict[str, set[str]]:
    """Series name → labels, as the code registers them."""
    out: dict[str, set[str]] = {}
    for name, (kind, labels) in (metrics or exported()).items():
        if kind == "histogram":
            for suffix in HISTOGRAM_SERIES:
                out[name + suffix] = set(labels) | ({"le"} if suffix == "_bucket" else set())
        else:
            out[name] = set(labels)
    return out


def test_the_dashboard_reads_only_series_the_worker_exports_and_groups_by_their_labels() -> None:
    code = series_of_the_code()
    reads = dashboard_reads(DASHBOARD)
    ours = {name: grouped for name, grouped in reads.items() if not name.startswith("nv_")}
    assert set(ours) <= set(code), f"exported by no one: {set(ours) - set(code)}"
    for name, grouped in ours.items():
        assert grouped <= code[name] | {"le"}, f"{name} is grouped by {grouped - code[name]}"


def test_every_metric_of_the_worker_the_drift_agent_and_the_retrainer_has_a_panel() -> None:
    reads = dashboard_reads(DASHBOARD)
    for name, (kind, _labels) in exported().items():
        series = [name + s for s in HISTOGRAM_SERIES] if kind == "histogram" else [name]
        assert set(series) & set(reads), f"no panel reads {name}"


def test_expression_parsing_catches_a_wrong_metric() -> None:
    series, grouped = metrics_and_groupings(
        "histogram_quantile(0.99, sum by (le, stage) "
        '(rate(streamscore_stage_seconds_bucket{stage="infer"}[5m])))'
    )
    assert series == {"streamscore_stage_seconds_bucket"}
    assert grouped == {"le", "stage"}
    assert "streamscore_stage_seconds" not in series_of_the_code()  # a histogram has no bare one


@pytest.mark.integration
def test_a_running_worker_and_triton_export_every_series_the_dashboard_reads(
    stack: ServicesSettings, start_worker: Any
) -> None:
    # A shadow that is not there beside one that scores, an unknown entity and a bad
    # message: every labelled series gets a child.
    challenger = ModelRef(export_model(stack, "challenger", seed=11), "1")
    missing_shadow = ModelRef("no-such-model", "7")
    # ... and the missing one as a canary for all: its share falls back to the primary.
    shadows = (missing_shadow, challenger)
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1"), shadows, Canary(missing_shadow, 100)))
    worker = start_worker(triton={"timeout_s": 0.5})
    create_topics(stack.kafka_bootstrap, worker.topics)
    events, _ = make_events(20, seed=21, entities=["never-stored"])
    produce_events(stack.kafka_bootstrap, worker.topics.events, events)
    produce(stack.kafka_bootstrap, worker.topics.events, [(b"bad", b"\x00not avro")])
    assert len(predictions(stack.kafka_bootstrap, worker.topics.predictions, 20)) == 20
    reads = dashboard_reads(DASHBOARD)
    worker_series = series_of_the_code(Metrics().exported())
    ours = {name for name in reads if name in worker_series}

    def missing() -> set[str]:
        found = exposed(worker.metrics())
        return {n for n in ours if n not in found or not reads[n] - {"le"} <= found[n]}

    wait_for(lambda: not missing(), 20, "every dashboard series on the worker's /metrics")
    url = f"http://{stack.host}:{stack.triton_metrics_port}/metrics"
    with urllib.request.urlopen(url) as page:
        triton = exposed(page.read().decode())
    for name in {n for n in reads if n.startswith(TRITON_PREFIX)}:
        assert name in triton, f"Triton does not export {name}"
        assert reads[name] <= triton[name]

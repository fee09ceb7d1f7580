"""Prometheus metrics of the canary guard, served on its ``/metrics`` (:9103 by default).

Live quality gauges per ``model`` (``name:version``) and ``role`` (primary, canary, shadow)
over each window of labelled predictions (streams/guard/quality.py), the rollbacks the guard
made, and what the label join dropped unmatched. The Grafana dashboard's "Live quality" row
reads each of them (tests/infra/test_dashboard.py), and infra/prometheus/alerts.yml alerts on
them.
"""

from __future__ import annotations

import contextlib
import math

from prometheus_client import CollectorRegistry

from infra.metrics import MetricSet
from streams.guard.join import Unmatched
from streams.guard.quality import Key, Quality

ROLLBACK_REASONS = ("error-rate", "latency", "drift")


class GuardMetrics(MetricSet):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        labels = ("model", "role")
        window = "over the guard's window of the latest labelled predictions"
        self.auc = self._gauge("streamscore_quality_auc", f"ROC AUC {window}.", labels)
        self.precision = self._gauge(
            "streamscore_quality_precision",
            f"Share of events called positive that were labelled 1, {window}.",
            labels,
        )
        self.recall = self._gauge(
            "streamscore_quality_recall",
            f"Share of events labelled 1 that were called positive, {window}.",
            labels,
        )
        self.logloss = self._gauge(
            "streamscore_quality_logloss", f"Log loss of the scores {window}.", labels
        )
        self.error_rate = self._gauge(
            "streamscore_quality_error_rate",
            f"Share of events whose call disagrees with the label (called positive and 0, or "
            f"not and 1), {window}.",
            labels,
        )
        self.labelled = self._gauge(
            "streamscore_quality_labelled", "Labelled predictions in the window.", labels
        )
        self.latency_p99 = self._gauge(
            "streamscore_quality_latency_p99_seconds",
            f"p99 of scored_at - event_time {window}.",
            labels,
        )
        self.rollbacks = self._counter(
            "streamscore_guard_rollbacks",
            "Canaries the guard rolled back, by model and reason: error-rate, latency, drift.",
            ("model", "reason"),
        )
        self.unmatched = self._counter(
            "streamscore_guard_unmatched",
            "Predictions that never met their label, and labels that never met a prediction, "
            "dropped from the join (too old or beyond its bound).",
            ("side",),
        )
        self._seen = Unmatched()
        self._quality = (self.auc, self.precision, self.recall, self.logloss, self.error_rate,
                         self.labelled, self.latency_p99)  # fmt: skip

    def show(self, key: Key, q: Quality) -> None:
        """Set one window's gauges (NaN where a figure is undefined)."""
        for gauge, value in (
            (self.auc, q.auc),
            (self.precision, q.precision),
            (self.recall, q.recall),
            (self.logloss, q.logloss),
            (self.error_rate, q.error_rate),
            (self.latency_p99, q.latency_p99_s),
        ):
            gauge.labels(key.model, key.role).set(value if math.isfinite(value) else math.nan)
        self.labelled.labels(key.model, key.role).set(q.labelled)

    def forget(self, key: Key) -> None:
        """Drop one window's series: its model left the routing, so a stale figure does not
        linger on the dashboard or in an alert's comparison."""
        for gauge in self._quality:
            with contextlib.suppress(KeyError):  # never shown
                gauge.remove(key.model, key.role)

    def count_unmatched(self, total: Unmatched) -> None:
        """Advance the counters to the join's running totals."""
        self.unmatched.labels("prediction").inc(total.predictions - self._seen.predictions)
        self.unmatched.labels("label").inc(total.labels - self._seen.labels)
        self._seen = Unmatched(total.predictions, total.labels)

"""Prometheus metrics of the drift agent, served on its ``/metrics``.

Names match the drift panels of infra/grafana/dashboards/streamscore.json (a test holds the
dashboard to :meth:`DriftMetrics.exported`). Each detector's statistic per watched column is
a gauge, set when a window closes, beside the threshold it is held to.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from infra.metrics import MetricSet


class DriftMetrics(MetricSet):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.summaries = self._counter(
            "streamscore_drift_summaries_merged",
            "Window summaries taken by the agent, by outcome: applied, duplicate, late, "
            "unknown-version, bins-mismatch, undecodable.",
            ["outcome"],
        )
        self.windows_closed = self._counter(
            "streamscore_drift_windows_closed", "Windows evaluated, per model version.", ["model"]
        )
        self.window_events = self._counter(
            "streamscore_drift_window_events",
            "Events in the windows evaluated, per model version.",
            ["model"],
        )
        self.statistic = self._gauge(
            "streamscore_drift_statistic",
            "Each detector's statistic over the last closed window, per watched column.",
            ["model", "feature", "detector"],
        )
        self.threshold = self._gauge(
            "streamscore_drift_threshold",
            "The threshold a detector's statistic is held to.",
            ["detector"],
        )
        self.alerts = self._counter(
            "streamscore_drift_alerts", "Drift alerts raised.", ["feature", "detector"]
        )
        self.requests = self._counter(
            "streamscore_drift_retraining_requests",
            "Retraining requests made by the policy.",
            ["model"],
        )
        self.labels = self._counter(
            "streamscore_drift_label_join",
            "Label join outcomes: matched, expired-prediction, unmatched-label, full, undecodable.",
            ["outcome"],
        )
        self.error_rate = self._gauge(
            "streamscore_drift_error_rate",
            "Share of labelled predictions the model got wrong (score >= 0.5 vs label).",
            ["model"],
        )

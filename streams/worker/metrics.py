"""Prometheus metrics of a scoring worker, served on ``/metrics``.

Names match the Grafana dashboard in infra/grafana/dashboards/streamscore.json (a test reads
every name the dashboard uses from :meth:`Metrics.exported` and from a running worker).
Each worker has its own registry (infra/metrics.py).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from infra.metrics import MetricSet

_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
_E2E_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class Metrics(MetricSet):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.events_in = self._counter("streamscore_events_in", "Events taken from the stream.")
        self.events_out = self._counter(
            "streamscore_events_out", "Records published, by topic.", ["topic"]
        )
        self.dlq = self._counter("streamscore_dlq", "Events dead-lettered, by reason.", ["reason"])
        self.batch_size = self._histogram(
            "streamscore_batch_size", "Events per micro-batch.", _BATCH_BUCKETS
        )
        self.stage_seconds = self._histogram(
            "streamscore_stage_seconds", "Time per batch in each stage.", _STAGE_BUCKETS, ["stage"]
        )
        self.infer_seconds = self._histogram(
            "streamscore_infer_seconds", "Triton request time per model.", _STAGE_BUCKETS, ["model"]
        )
        self.end_to_end = self._histogram(
            "streamscore_end_to_end_seconds",
            "From event_time to the prediction being acknowledged by the broker.",
            _E2E_BUCKETS,
        )
        self.breaker_state = self._gauge(
            "streamscore_breaker_state",
            "Circuit breaker per model: 0 closed, 1 half-open, 2 open.",
            ["model"],
        )
        self.consumer_lag = self._gauge(
            "streamscore_consumer_lag",
            "Messages behind the end of each input partition.",
            ["topic", "partition"],
        )
        self.shadow_missing = self._counter(
            "streamscore_shadow_missing",
            "Shadow outputs not produced because the shadow model failed.",
            ["model"],
        )
        self.features_missing = self._counter(
            "streamscore_features_missing",
            "Predictions made with default entity features.",
            ["cause"],
        )
        self.model_errors = self._counter(
            "streamscore_model_errors",
            "Triton requests that failed, by model and error: ModelTimeoutError, "
            "ModelUnavailableError, CircuitOpenError (the breaker refused to try).",
            ["model", "error"],
        )
        self.primary_failures = self._counter(
            "streamscore_primary_failures",
            "Batches held back because the primary model failed (back-pressure).",
        )
        self.drift_summaries = self._counter(
            "streamscore_drift_summaries",
            "Drift window summaries published (one per model version and window per flush).",
        )
        self.drift_unmonitored = self._counter(
            "streamscore_drift_unmonitored",
            "Events not counted for drift: their primary version has no reference distributions.",
        )
        self.retries = self._counter(
            "streamscore_retries",
            "Tries repeated after a failure, by what was tried: score, publish, features, "
            "feature-updates, drift-summaries.",
            ["what"],
        )

    def retry_counter(self, what: str) -> Callable[[BaseException], None]:
        """An ``on_retry`` for :meth:`streams.backoff.Backoff.retry` counting ``what``."""
        counter = self.retries.labels(what)
        return lambda _exc: counter.inc()

"""Prometheus metrics of a scoring worker, served on ``/metrics``.

Names match the Grafana dashboard in infra/grafana/dashboards/streamscore.json (a test reads
every name the dashboard uses from :meth:`Metrics.exported` and from a running worker).
Each worker has its own registry (infra/metrics.py).

A shadow is judged live, not only in the offline report (streams/report/): per batch, its
scores beside the primary's give three counters per shadow, compared events, disagreeing
decisions and the summed |score difference|, so that a share and a mean come out of two rates
over any range (rate(disagreements) / rate(compared)) rather than a gauge of one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from prometheus_client import CollectorRegistry

from infra.metrics import MetricSet

_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
_E2E_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class ShadowComparison(NamedTuple):
    """One shadow against the primary on one batch."""

    compared: int  # events scored by both
    disagreements: int  # of those, events whose decision differs
    abs_delta: float  # sum over those of |shadow score - primary score|


def compare_shadow(
    primary: np.ndarray,
    primary_decisions: np.ndarray,
    shadow: np.ndarray,
    shadow_decisions: np.ndarray,
) -> ShadowComparison:
    """The comparison of a shadow's scores and decisions (decision indexes) with the
    primary's on the same rows: vectorised, the sum taken in float64 (float32 Triton scores
    would lose the small deltas of a large batch)."""
    delta = np.abs(np.asarray(shadow, np.float64) - np.asarray(primary, np.float64))
    disagreements = np.count_nonzero(np.asarray(shadow_decisions) != primary_decisions)
    return ShadowComparison(len(delta), int(disagreements), float(delta.sum()))


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
        self.batch_cap = self._gauge(
            "streamscore_batch_cap",
            "Batch cap N the latency target chose for the next take (librdkafka engine).",
        )
        self.batch_linger = self._gauge(
            "streamscore_batch_linger_seconds",
            "Linger W the latency target chose: after the first event, how long a take waits "
            "for more (librdkafka engine).",
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
        self.shadow_compared = self._counter(
            "streamscore_shadow_compared",
            "Events scored by both the primary and the shadow (model: the shadow).",
            ["model"],
        )
        self.shadow_disagreements = self._counter(
            "streamscore_shadow_disagreements",
            "Compared events whose decision (or class) by the shadow differs from the primary's.",
            ["model"],
        )
        self.shadow_score_delta = self._counter(
            "streamscore_shadow_score_delta",
            "Sum of |shadow score - primary score| over the compared events: divided by "
            "compared, the mean difference.",
            ["model"],
        )
        self.decided = self._counter(
            "streamscore_decided",
            "Events decided, by model and role: primary, or canary for the canary's share.",
            ["model", "role"],
        )
        self.canary_fallbacks = self._counter(
            "streamscore_canary_fallback",
            "Canary-share events decided by the primary because the canary model failed.",
            ["model"],
        )
        self.features_missing = self._counter(
            "streamscore_features_missing",
            "Predictions made with default entity features, by cause: store-down, unknown-entity.",
            ["cause"],
        )
        self.features_stale = self._counter(
            "streamscore_features_stale",
            "Predictions made with default entity features because the stored vector was "
            "older than the feature view's ttl.",
        )
        self.features_age_unknown = self._counter(
            "streamscore_features_age_unknown",
            "Entity vectors read that carry no update time (written before vectors had one): "
            "used, never judged stale.",
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

    def count_shadow(self, model: str, comparison: ShadowComparison) -> None:
        """Add one batch's comparison of the shadow ``model`` ("name:version")."""
        self.shadow_compared.labels(model).inc(comparison.compared)
        self.shadow_disagreements.labels(model).inc(comparison.disagreements)
        self.shadow_score_delta.labels(model).inc(comparison.abs_delta)

    def retry_counter(self, what: str) -> Callable[[BaseException], None]:
        """An ``on_retry`` for :meth:`streams.backoff.Backoff.retry` counting ``what``."""
        counter = self.retries.labels(what)
        return lambda _exc: counter.inc()

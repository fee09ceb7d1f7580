"""Prometheus metrics of a scoring worker, served on ``/metrics``.

Names match the Grafana dashboard in infra/grafana/dashboards/streamscore.json. Bound to a
registry given at construction so that tests (and two pipelines in one process) do not
collide in the global one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
_E2E_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_in = Counter(
            "streamscore_events_in", "Events taken from the stream.", registry=r
        )
        self.events_out = Counter(
            "streamscore_events_out", "Records published, by topic.", ["topic"], registry=r
        )
        self.dlq = Counter(
            "streamscore_dlq", "Events dead-lettered, by reason.", ["reason"], registry=r
        )
        self.batch_size = Histogram(
            "streamscore_batch_size", "Events per micro-batch.", buckets=_BATCH_BUCKETS, registry=r
        )
        self.stage_seconds = Histogram(
            "streamscore_stage_seconds",
            "Time per batch in each stage.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.infer_seconds = Histogram(
            "streamscore_infer_seconds",
            "Triton request time per model.",
            ["model"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "streamscore_end_to_end_seconds",
            "From event_time to the prediction being acknowledged by the broker.",
            buckets=_E2E_BUCKETS,
            registry=r,
        )
        self.breaker_state = Gauge(
            "streamscore_breaker_state",
            "Circuit breaker per model: 0 closed, 1 half-open, 2 open.",
            ["model"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "streamscore_consumer_lag",
            "Messages behind the end of each input partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.shadow_missing = Counter(
            "streamscore_shadow_missing",
            "Shadow outputs not produced because the shadow model failed.",
            ["model"],
            registry=r,
        )
        self.features_missing = Counter(
            "streamscore_features_missing",
            "Predictions made with default entity features.",
            ["cause"],
            registry=r,
        )
        self.primary_failures = Counter(
            "streamscore_primary_failures",
            "Batches held back because the primary model failed (back-pressure).",
            registry=r,
        )

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        start_http_server(port, addr=addr, registry=self.registry)

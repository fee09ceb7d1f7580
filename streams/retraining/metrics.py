"""Prometheus metrics of the retraining worker, served on its ``/metrics``.

Names match the retraining panels of infra/grafana/dashboards/streamscore.json (a test holds
the dashboard to :meth:`RetrainingMetrics.exported`) and the terminal dashboard
(streams/demo/). A request can train for minutes, so the worker says which step it is in:
``streamscore_retraining_state`` has one series per state, exactly one of them 1. It is
collected from one attribute read per scrape rather than kept as six gauge children set one
after the other, so that no scrape can land between two sets and see two states, or none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.registry import Collector

from infra.metrics import MetricSet

STATE = "streamscore_retraining_state"
STEPS = ("reading", "training", "gating", "exporting", "loading")
STATES = ("idle", *STEPS)
OUTCOMES = ("accepted", "rejected", "duplicate", "undecodable")
_STEP_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_STATE_DOC = (
    "1 for what the worker is doing, 0 for the rest: idle, reading (the training set), "
    "training (the candidate), gating (scoring the holdout, deciding), exporting (to the model "
    "repository), loading (waiting for Triton, adding the shadow)."
)


class _StateCollector(Collector):
    """The state gauge, built at each scrape from a single read of ``current``."""

    def __init__(self) -> None:
        self.current = "idle"

    def collect(self) -> Iterator[GaugeMetricFamily]:
        current = self.current
        family = GaugeMetricFamily(STATE, _STATE_DOC, labels=["state"])
        for state in STATES:
            family.add_metric([state], 1.0 if state == current else 0.0)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(STATE, _STATE_DOC, labels=["state"])


class RetrainingMetrics(MetricSet):
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(registry)
        self._clock = clock
        self._state = _StateCollector()
        self.registry.register(self._state)
        # Registered by hand (not a Gauge): the dashboard test holds the panels to it too.
        self._exported[STATE] = ("gauge", ("state",))
        self._lock = threading.Lock()
        self._since = clock()
        self.requests = self._counter(
            "streamscore_retraining_requests",
            "Retraining requests taken, by outcome: accepted, rejected (a result saying why), "
            "duplicate (answered already), undecodable.",
            ["outcome"],
        )
        self.step_seconds = self._histogram(
            "streamscore_retraining_step_seconds",
            "Time spent in each step of a request: reading, training, gating, exporting, loading.",
            _STEP_BUCKETS,
            ["step"],
        )
        self.last_version = self._gauge(
            "streamscore_retraining_last_version",
            "The version this worker last accepted and added as a shadow, per model.",
            ["model"],
        )
        for outcome in OUTCOMES:  # every series exists from the start, at 0
            self.requests.labels(outcome)
        for step in STEPS:
            self.step_seconds.labels(step)

    @property
    def state(self) -> str:
        return self._state.current

    def enter(self, state: str) -> None:
        """Switch to ``state``; the step being left has its time observed. Also the
        ``on_step`` of :func:`inference.retraining.retrain`."""
        if state not in STATES:
            raise ValueError(f"unknown retraining state {state!r}; one of {STATES}")
        now = self._clock()
        with self._lock:
            left, since = self._state.current, self._since
            self._state.current, self._since = state, now
        if left != "idle":
            self.step_seconds.labels(left).observe(now - since)

    def answered(self, outcome: str, model: str, version: str | None) -> None:
        """Count a published result; an accepted one sets the model's last version."""
        self.requests.labels(outcome).inc()
        if outcome == "accepted" and version is not None:
            self.last_version.labels(model).set(int(version))

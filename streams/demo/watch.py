"""Once a second, what the running system says, as one :class:`Snapshot` for the dashboard,
plus a line for each step of the loop the moment it shows: a drift alert, the retraining
request, each stage of the retraining, the gate's verdict, the new shadow serving.

Its sources are the system's own: the ``/metrics`` pages of the worker, the drift agent and
the retraining worker (what Prometheus and Grafana read), the routing value in Redis, and
the topics (:mod:`streams.demo.outputs`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from streams.demo.outputs import Latency, OutputReader
from streams.demo.scrape import Page, rate, scrape
from streams.routing.state import Routing, RoutingError, read_sync
from streams.topics import TopicNames

RECENT_S = 5.0  # the dashboard's "now": latency over the last 5 s
SPAN_S = 10  # the run's worst p99 is over any 10 s
STAGES = {
    "reading": "reading the training set from the topics",
    "training": "training a candidate",
    "gating": "gating it against the primary on the latest events",
    "exporting": "exporting it to the model repository",
    "loading": "loading it on Triton",
}


@dataclass(frozen=True)
class ModelRow:
    ref: str
    role: str  # primary | shadow
    compared: float = 0.0  # events scored by both it and the primary (a shadow)
    disagree: float = 0.0
    delta: float = 0.0  # sum of |score - primary's score|
    new: bool = False  # trained during this run


@dataclass(frozen=True)
class DriftRow:
    feature: str
    psi: float | None
    ks: float | None


@dataclass
class Snapshot:
    """Everything the dashboard shows, at one instant."""

    elapsed_s: float
    length_s: float
    rate: float
    engine: str
    drift_at_s: float
    drift_feature: str
    sent: int
    phase: str = "streaming"
    in_rate: float = 0.0
    out_rate: float = 0.0
    predictions: int = 0
    recent: Latency | None = None
    run: Latency | None = None
    worst_p99_ms: float | None = None
    batch_mean: float | None = None
    lag: float = 0.0
    dlq: dict[str, float] = field(default_factory=dict)
    psi_threshold: float | None = None
    ks_threshold: float | None = None
    windows_closed: float = 0.0
    drift: list[DriftRow] = field(default_factory=list)
    alerts: int = 0
    models: list[ModelRow] = field(default_factory=list)
    retraining: str = "idle"
    retraining_for_s: float = 0.0
    requests: int = 0
    results: list[str] = field(default_factory=list)


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


def alert_line(alert: dict[str, Any]) -> str:
    """A DriftAlert record (times as epoch ms) in one line."""
    return (
        f"drift alert: {alert['feature']} {alert['detector']} {alert['statistic']:.3f} > "
        f"{alert['threshold']:.3f} in the window {_clock(alert['window_start'])}-"
        f"{_clock(alert['window_end'])} ({alert['window_size']:,} events) of "
        f"{alert['model_name']}:{alert['model_version']}"
    )


def result_line(result: dict[str, Any]) -> str:
    """A RetrainingResult record in one line: the gate's figures, or why it was rejected."""
    m, name = result["metrics"], result["model_name"]
    if result["outcome"] != "accepted":
        return f"the candidate of {name} was rejected: {'; '.join(result['reasons'])}"
    figures = ""
    if {"candidate_auc", "primary_auc", "rows", "train_rows"} <= m.keys():
        figures = (
            f": AUC {m['candidate_auc']:.3f} against the primary's {m['primary_auc']:.3f}, "
            f"log loss {m['candidate_logloss']:.4f} against {m['primary_logloss']:.4f}, "
            f"on {m['rows'] - m['train_rows']:,.0f} held-out events"
        )
    return f"{name}:{result['new_version']} passed the gate{figures}"


class Watcher:
    """Polled by the demo's loop; keeps what it needs between polls (counters' last values,
    the steps already told)."""

    def __init__(
        self,
        urls: dict[str, str],
        outputs: OutputReader,
        store: redis.Redis,
        topics: TopicNames,
        base: Snapshot,
        routing_key: str,
    ) -> None:
        self.urls = urls
        self.outputs = outputs
        self.store = store
        self.topics = topics
        self.base = base
        self.routing_key = routing_key
        self.started = time.time()
        self.steps: list[str] = []
        self._pages: dict[str, Page] = {}
        self._before: tuple[float, Page] | None = None
        self._known: set[str] | None = None  # model versions serving when the run began
        self._alerted: set[str] = set()
        self._stage = "idle"
        self._counts: dict[str, float] = {}  # retraining stages completed, by stage
        self._told: set[str] = set()  # stages of the current request already told
        self._unannounced: dict[str, int] = {}  # new serving versions → polls seen
        self._stage_since = time.monotonic()
        self._results: list[str] = []
        self._requests = 0
        self._alerts = 0
        self.accepted: list[str] = []  # versions the retraining worker added this run
        self.rejected: list[str] = []

    def poll(self, elapsed_s: float, sent: int, phase: str) -> tuple[Snapshot, list[str]]:
        told = len(self.steps)
        pages = {name: scrape(url) for name, url in self.urls.items()}
        worker, agent, retrainer = (pages.get(n, Page()) for n in ("worker", "agent", "retrainer"))
        snap = Snapshot(**{**self.base.__dict__, "elapsed_s": elapsed_s, "sent": sent})
        snap.phase = phase
        self._scoring(snap, worker)
        records = self.outputs.records()
        self._records(records, ("alerts", "requests"))
        self._retraining(snap, retrainer)
        self._records(records, ("results",))
        self._models(snap, worker)
        self._drift(snap, agent)
        snap.alerts, snap.requests, snap.results = self._alerts, self._requests, self._results
        return snap, self.steps[told:]

    # -- scoring ---------------------------------------------------------------------------
    def _scoring(self, snap: Snapshot, page: Page) -> None:
        now = time.monotonic()
        if self._before is not None:
            then, old = self._before
            seconds = now - then
            snap.in_rate = rate(page.total("streamscore_events_in_total"),
                                old.total("streamscore_events_in_total"), seconds)  # fmt: skip
            out = "streamscore_events_out_total"
            predictions = self.topics.predictions
            snap.out_rate = rate(page.total(out, topic=predictions),
                                 old.total(out, topic=predictions), seconds)  # fmt: skip
            n = page.total("streamscore_batch_size_count") - old.total(
                "streamscore_batch_size_count"
            )
            total = page.total("streamscore_batch_size_sum") - old.total(
                "streamscore_batch_size_sum"
            )
            snap.batch_mean = total / n if n > 0 else None
        if page.samples:
            self._before = (now, page)
        snap.lag = page.total("streamscore_consumer_lag", topic=self.topics.events)
        snap.dlq = page.by("streamscore_dlq_total", "reason")
        snap.predictions = self.outputs.predictions
        snap.recent = self.outputs.book.latency(last_s=RECENT_S)
        snap.run = self.outputs.book.latency(since=self.started)
        snap.worst_p99_ms = self.outputs.book.worst_p99(SPAN_S, self.started)

    # -- drift -----------------------------------------------------------------------------
    def _drift(self, snap: Snapshot, page: Page) -> None:
        thresholds = page.by("streamscore_drift_threshold", "detector")
        snap.psi_threshold, snap.ks_threshold = thresholds.get("psi"), thresholds.get("ks")
        snap.windows_closed = page.total("streamscore_drift_windows_closed_total")
        stats: dict[str, dict[str, float]] = {}
        primary = next((m.ref for m in snap.models if m.role == "primary"), None)
        for labels, value in page.labelled("streamscore_drift_statistic"):
            if primary is None or labels.get("model") == primary:
                stats.setdefault(labels["feature"], {})[labels["detector"]] = value
        snap.drift = [DriftRow(f, d.get("psi"), d.get("ks")) for f, d in stats.items()]

    def _records(self, records: list[tuple[str, dict[str, Any]]], kinds: tuple[str, ...]) -> None:
        """The alerts, requests or results among ``records``, in the order read."""
        topics = self.topics
        wanted = {
            topics.drift_alerts: "alerts", topics.retraining: "requests",
            topics.retraining_results: "results",
        }  # fmt: skip
        for topic, record in records:
            if wanted.get(topic) not in kinds:
                continue
            if topic == topics.drift_alerts:
                self._alerts += 1
                feature = record["feature"]
                if feature not in self._alerted:
                    self._alerted.add(feature)
                    self.steps.append(alert_line(record))
            elif topic == topics.retraining:
                self._requests += 1
                self.steps.append(
                    f"retraining requested by the {record['requested_by']}: {record['reason']}"
                )
            elif topic == topics.retraining_results:
                self._result(record)

    def _result(self, record: dict[str, Any]) -> None:
        if record["outcome"] == "accepted":
            self.accepted.append(f"{record['model_name']}:{record['new_version']}")
        else:
            self.rejected.append(record["model_name"])
        line = result_line(record)
        self._results.append(line)
        self.steps.append(line)

    # -- retraining ------------------------------------------------------------------------
    def _retraining(self, snap: Snapshot, page: Page) -> None:
        """The stage now, and a line for every stage begun since the last poll: a stage
        shorter than a poll (gating, exporting) shows in its duration histogram's count."""
        states = page.by("streamscore_retraining_state", "state")
        stage = max(states, key=lambda s: states[s]) if states and max(states.values()) else "idle"
        counts = page.by("streamscore_retraining_step_seconds_count", "step")
        for name in STAGES:
            done = counts.get(name, 0.0)
            if (done > self._counts.get(name, 0.0) or name == stage) and name not in self._told:
                self._told.add(name)
                self.steps.append(f"retraining: {STAGES[name]}")
            self._counts[name] = done
        if stage == "idle":
            self._told.clear()  # the next request's stages are told again
        if stage != self._stage:
            self._stage, self._stage_since = stage, time.monotonic()
        snap.retraining = stage
        snap.retraining_for_s = time.monotonic() - self._stage_since

    # -- models ----------------------------------------------------------------------------
    def _models(self, snap: Snapshot, page: Page) -> None:
        try:
            routing: Routing | None = read_sync(self.store, self.routing_key)
        except (RoutingError, redis.RedisError):
            routing = None
        if routing is None:
            return
        serving = [str(routing.primary), *map(str, routing.shadows)]
        if self._known is None:
            self._known = set(serving)
        for ref in serving:
            if ref in self._known:
                continue
            # Told after the gate's verdict, which the retraining worker publishes once the
            # version serves; a version someone else added is told a few polls on.
            seen = self._unannounced[ref] = self._unannounced.get(ref, 0) + 1
            if ref in self.accepted or seen >= 5:
                self._known.add(ref)
                self.steps.append(f"{ref} now runs as a shadow: the workers re-read the "
                                  "routing, nothing restarted")  # fmt: skip
        compared = page.by("streamscore_shadow_compared_total", "model")
        disagree = page.by("streamscore_shadow_disagreements_total", "model")
        delta = page.by("streamscore_shadow_score_delta_total", "model")
        rows = [ModelRow(str(routing.primary), "primary")]
        for shadow in map(str, routing.shadows):
            rows.append(
                ModelRow(
                    shadow,
                    "shadow",
                    compared.get(shadow, 0.0),
                    disagree.get(shadow, 0.0),
                    delta.get(shadow, 0.0),
                    shadow in self.accepted,
                )
            )
        snap.models = rows

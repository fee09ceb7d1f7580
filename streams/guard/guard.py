"""The canary guard's state: the join, the windows, the alerts, and the rollback it makes.

:class:`Guard` knows nothing of Kafka's consumer: :meth:`Guard.handle` takes one record's
topic and bytes, :meth:`Guard.check` runs each ``check_every_s`` (gauges, then the canary's
judgement). The loop that feeds it is streams/guard/process.py. Time is the caller's
monotonic clock, in seconds.

A canary is judged from the moment the guard first sees it in the routing. When the routing
names a new canary, its canary window is emptied (labelled events of an earlier run of the
same version judged another share, another period) and only drift alerts that arrive from
then on count against it. A rollback is a watched read-modify-write
(:func:`streams.routing.state.update_sync`) that refuses when the canary changed in the
meantime (an operator moved it, promoted it, rolled it back): the guard never undoes a
newer decision than the one it judged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis

from schemas.errors import DecodeError
from streams.client.errors import ClientError
from streams.guard.events import publish_model_event
from streams.guard.join import Joined, LabelJoin, sampled
from streams.guard.judge import Breach, judge
from streams.guard.metrics import GuardMetrics
from streams.guard.quality import Key, Windows
from streams.guard.settings import GuardSettings
from streams.routing.state import (
    ModelRef,
    Routing,
    RoutingError,
    read_sync,
    routing_key,
    update_sync,
)

log = logging.getLogger("streamscore.guard")


@dataclass(slots=True)
class GuardStats:
    predictions: int = 0
    labels: int = 0
    alerts: int = 0
    undecodable: int = 0
    joined: int = 0
    checks: int = 0
    rollbacks: int = 0


LINGER_S = 120.0  # shorter than the alerts' `for:`, so a rolled-back canary stops no alert


def routed_keys(routing: Routing) -> set[Key]:
    """The (model, role) pairs a routing produces predictions for."""
    keys = {Key(str(routing.primary), "primary")}
    keys |= {Key(str(s), "shadow") for s in routing.shadows}
    if routing.canary is not None:
        keys.add(Key(str(routing.canary.model), "canary"))
    return keys


def describe_alert(alert: dict[str, Any]) -> str:
    return (
        f"drift alert {alert['alert_id']}: {alert['detector']} on {alert['feature']} "
        f"({alert['statistic']:.3g} over {alert['threshold']:.3g})"
    )


class Guard:
    def __init__(self, settings: GuardSettings, metrics: GuardMetrics | None = None) -> None:
        self.settings = settings
        self.config = settings.guard
        self.join = LabelJoin(self.config.join_ttl_s, self.config.join_max_entries)
        self.windows = Windows(self.config.window)
        self.metrics = metrics or GuardMetrics()
        self.stats = GuardStats()
        self.project = settings.use_case()
        self.key = routing_key(self.project.name)
        self.label_field = self.project.spec.labels.field
        topics = settings.topics
        prediction = settings.codec("prediction", logical_types=False)
        self.codecs = {
            topics.predictions: prediction,
            topics.shadow: prediction,
            topics.labels: settings.codec("label", logical_types=False),
            topics.drift_alerts: settings.codec("drift_alert", logical_types=False),
        }
        self.touched: set[Key] = set()
        self.alerts: dict[str, tuple[float, str]] = {}  # model → (arrived at, description)
        self.canary: ModelRef | None = None
        self.canary_since = 0.0
        self._seen_routing = False
        self.routed: set[Key] | None = None  # None: no routing seen, every window counts
        self.out_since: dict[Key, float] = {}

    @property
    def topics(self) -> list[str]:
        return list(self.codecs)

    def handle(self, topic: str, value: bytes, now_s: float) -> None:
        """One record of any of the guard's topics."""
        try:
            record = self.codecs[topic].decode(value)
        except DecodeError as exc:
            self.stats.undecodable += 1
            log.debug("skipping an undecodable record on %s: %s", topic, exc)
            return
        topics = self.settings.topics
        if topic == topics.drift_alerts:
            self.stats.alerts += 1
            model = f"{record['model_name']}:{record['model_version']}"
            self.alerts[model] = (now_s, describe_alert(record))
        elif topic == topics.labels:
            self.stats.labels += 1
            outcome = self.project.outcome(record[self.label_field])
            if outcome is None or outcome not in (0.0, 1.0):
                self.stats.undecodable += 1  # the guard judges a binary positive call
                return
            if sampled(record["event_id"], self.config.sample):
                self._count(self.join.add_label(record["event_id"], int(outcome), now_s))
        else:
            self.stats.predictions += 1
            if sampled(record["event_id"], self.config.sample):
                key = Key(f"{record['model_name']}:{record['model_version']}", record["role"])
                latency_s = max(0.0, (record["scored_at"] - record["event_time"]) / 1000)
                joined = self.join.add_prediction(
                    record["event_id"], key, record["score"], latency_s, now_s
                )
                self._count(joined)

    def _count(self, joined: list[Joined]) -> None:
        for j in joined:
            if self.routed is None or j.key in self.routed:
                self.windows.add(j.key, j.score, j.label, j.latency_s)
                self.touched.add(j.key)
        self.stats.joined += len(joined)

    def check(self, store: redis.Redis, now_s: float) -> Breach | None:
        """Follow the routing, set the gauges of the windows that changed, then judge the
        canary, if any; the breach it was rolled back for, if it was."""
        self.stats.checks += 1
        self.join.expire(now_s)
        self.metrics.count_unmatched(self.join.unmatched)
        try:
            routing: Routing | None = read_sync(store, self.key)
            readable = True
        except (RoutingError, redis.RedisError) as exc:
            log.warning("routing unreadable, nothing judged: %s", exc)
            routing, readable = None, False
        if readable:
            self._follow(routing, now_s)
        decider = self.project.decider(self.project.default_model.name)
        for key in sorted(self.touched & set(self.windows.by_key), key=lambda k: (k.model, k.role)):
            self.metrics.show(key, self.windows.summary(key, decider))
        self.touched.clear()
        if routing is None or routing.canary is None:
            return None
        return self._judge(store, routing, routing.canary.model, now_s)

    def _follow(self, routing: Routing | None, now_s: float) -> None:
        """Track the canary, and the (model, role) pairs the routing has: a window whose
        model left it takes no more labels, keeps its last figures on /metrics for
        ``LINGER_S`` (what the dashboard shows after a rollback), then goes."""
        canary = None if routing is None or routing.canary is None else routing.canary.model
        if canary != self.canary:
            if canary is not None and self._seen_routing:
                self.windows.clear(Key(str(canary), "canary"))
            self.canary, self.canary_since = canary, now_s
        self._seen_routing = True
        self.routed = None if routing is None else routed_keys(routing)
        if self.routed is None:
            return
        for key in list(self.windows.by_key):
            if key in self.routed:
                self.out_since.pop(key, None)
            elif now_s - self.out_since.setdefault(key, now_s) >= LINGER_S:
                self.windows.drop(key)
                self.metrics.forget(key)
                del self.out_since[key]

    def _judge(
        self, store: redis.Redis, routing: Routing, canary: ModelRef, now_s: float
    ) -> Breach | None:
        decider, model = self.project.decider(canary.name), str(canary)
        alert = self.alerts.get(model)
        # An alert that came within one check before the guard saw this canary counts too.
        fresh = alert is not None and alert[0] >= self.canary_since - self.config.check_every_s
        breach = judge(
            self.windows.summary(Key(model, "canary"), decider),
            self.windows.summary(Key(str(routing.primary), "primary"), decider),
            self.config,
            alert[1] if alert is not None and fresh else None,
        )
        if breach is None or not self.rollback(store, canary, breach):
            return None
        return breach

    def rollback(self, store: redis.Redis, canary: ModelRef, breach: Breach) -> bool:
        """End ``canary`` if it is still the canary; log, count and publish why."""

        def change(current: Routing | None) -> Routing:
            if current is None or current.canary is None or current.canary.model != canary:
                raise RoutingError(f"{canary} is no longer the canary")
            return current.rollback()

        try:
            before, after = update_sync(store, self.key, change)
        except (RoutingError, redis.RedisError) as exc:
            log.warning("guard: no rollback of %s (%s): %s", canary, breach.reason, exc)
            return False
        model = str(canary)
        self.stats.rollbacks += 1
        self.metrics.rollbacks.labels(model, breach.kind).inc()
        if self.routed is not None:
            self.routed.discard(Key(model, "canary"))  # its figures freeze, then go
        self.alerts.pop(model, None)
        self.canary = None
        log.warning("guard: rolled back canary %s (%s)", model, breach.reason)
        try:
            publish_model_event(
                self.settings, "rollback", model, breach.reason, breach.metrics,
                before, after, by="guard",
            )  # fmt: skip
        except ClientError as exc:  # the rollback stands; only its record is missing
            log.error("guard: the rollback of %s was not recorded on %s: %s",
                      model, self.settings.topics.model_events, exc)  # fmt: skip
        return True

"""What the canary scenario reads back: who decided each event, and every routing change.

One consumer, assigned (no group) at the current ends of `predictions` and `models.events`
when the scenario starts, in a thread of its own, as the live demo's reader does
(streams/demo/outputs.py). From the predictions it keeps what the figures need and no more:
the decisions per (model, role), the entities each arm decided while a phase is measured
(:meth:`CanaryWatch.measure`), and each canary's last decision (``scored_at``, the worker's
clock). From `models.events` it keeps every record, so that the scenario waits on what the
commands and the guard published rather than on its own guesses.

The figures are pure functions of those (:func:`split_share`, :func:`rollback_times`), so
that a unit test can pin them without services.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from streams.client import ClientSettings
from streams.demo.outputs import TopicTail


@dataclass(frozen=True)
class Split:
    """Entities (and events) each arm decided while a phase was measured."""

    canary_entities: int
    all_entities: int
    both: int  # entities seen in both arms: a sticky split has none
    canary_events: int
    all_events: int

    @property
    def share(self) -> float:
        return self.canary_entities / self.all_entities if self.all_entities else float("nan")


def split_share(entities: dict[str, set[str]], events: Counter[str]) -> Split:
    """``entities``/``events`` by role (``primary``, ``canary``)."""
    canary, primary = entities.get("canary", set()), entities.get("primary", set())
    return Split(
        len(canary), len(canary | primary), len(canary & primary),
        events["canary"], events["canary"] + events["primary"],
    )  # fmt: skip


def rollback_times(
    canary_at_ms: int, rollback_at_ms: int, last_canary_ms: int | None
) -> tuple[float, float | None]:
    """(detection: the canary's start to its rollback; the rollback to the canary's last
    decision), in seconds. The second is None when the canary never decided, and negative
    when its last decision came before the rollback (no worker used it after)."""
    detection = (rollback_at_ms - canary_at_ms) / 1000
    if last_canary_ms is None:
        return detection, None
    return detection, (last_canary_ms - rollback_at_ms) / 1000


class CanaryWatch(TopicTail):
    """Reads predictions and model events until :meth:`close`."""

    def __init__(self, client: ClientSettings) -> None:
        t = client.topics
        schemas = {t.predictions: "prediction", t.model_events: "model_event"}
        super().__init__(client, "demo-canary-watch", schemas, **{"fetch.wait.max.ms": 100})
        self.predictions = 0
        self.decided: Counter[tuple[str, str]] = Counter()
        self.last_canary_ms: dict[str, int] = {}
        self.events: list[dict[str, Any]] = []
        self._measuring = False
        self._entities: dict[str, set[str]] = {}
        self._measured: Counter[str] = Counter()

    def take(self, topic: str, record: dict[str, Any], stamped_ms: int) -> None:
        if topic == self.topics.model_events:
            self.events.append(record)
        else:
            self._prediction(record)

    def _prediction(self, record: dict[str, Any]) -> None:
        model, role = f"{record['model_name']}:{record['model_version']}", record["role"]
        self.predictions += 1
        self.decided[(model, role)] += 1
        if role == "canary":
            last = self.last_canary_ms.get(model, 0)
            self.last_canary_ms[model] = max(last, record["scored_at"])
        if self._measuring:
            self._entities.setdefault(role, set()).add(record["entity_id"])
            self._measured[role] += 1

    def measure(self, on: bool) -> Split:
        """Start (``on``) or stop counting entities per arm; the split counted so far."""
        with self._lock:
            if on:
                self._entities, self._measured = {}, Counter()
            self._measuring = on
            return split_share(self._entities, self._measured)

    def event(self, kind: str, model: str, by: str | None = None) -> dict[str, Any] | None:
        """The latest model event of ``kind`` on ``model`` (by ``by``), if read yet."""
        with self._lock:
            for record in reversed(self.events):
                mine = record["kind"] == kind and record["model"] == model
                if mine and (by is None or record["by"] == by):
                    return record
        return None

    def wait_event(
        self, kind: str, model: str, timeout_s: float, by: str | None = None
    ) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while (found := self.event(kind, model, by)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return found

    def canary_decisions(self, model: str | None = None) -> int:
        """Events decided by ``model`` as a canary (None: by any canary)."""
        with self._lock:
            return sum(n for (m, role), n in self.decided.items()
                       if role == "canary" and model in (None, m))  # fmt: skip

    def records(self) -> list[dict[str, Any]]:
        """The model events read so far, oldest first."""
        with self._lock:
            return list(self.events)

"""The guard's label join: predictions meet their labels by event_id, in bounded memory.

Unlike the drift agent's join (drift/labels.py, one prediction per event, state in a Faust
table), one event here has several predictions: the one that decided it (role primary or
canary) and one per shadow, on two topics that are read at their own pace. So:

- a prediction waits for its label, with the other predictions of its event;
- a label waits for its predictions, and stays after it has met some, because a shadow's
  prediction may come later; it remembers which (model, role) it met, so a prediction
  delivered twice (the worker is at-least-once) is counted once, and so is a label;
- both sides are kept in insertion order, in plain dicts, and dropped from the oldest end when
  older than ``ttl_s`` or beyond ``max_entries`` event ids per side: memory is bounded by the
  settings, whatever the label delay. A dropped prediction never met its label, and a dropped
  label that met nothing never met a prediction: both are counted as unmatched.

Time is the caller's clock (seconds), so the tests need no sleep.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from streams.guard.quality import Key

BUCKETS = 10_000


def sampled(event_id: str, share: float) -> bool:
    """Whether an event is joined at all: a hash of its id, so both sides agree."""
    return share >= 1 or zlib.crc32(event_id.encode()) % BUCKETS < share * BUCKETS


@dataclass(frozen=True, slots=True)
class Joined:
    """One prediction with its label."""

    key: Key
    score: float
    label: int
    latency_s: float


@dataclass(slots=True)
class _Predictions:
    at_s: float
    items: list[tuple[Key, float, float]] = field(default_factory=list)  # key, score, latency


@dataclass(slots=True)
class _Label:
    at_s: float
    label: int
    met: set[Key] = field(default_factory=set)


@dataclass(slots=True)
class Unmatched:
    """Entries dropped without a match, by side, since the join began."""

    predictions: int = 0
    labels: int = 0


class LabelJoin:
    """
    >>> join = LabelJoin(ttl_s=60, max_entries=100)
    >>> join.add_label("e1", 1, at_s=0.0)
    []
    >>> join.add_prediction("e1", Key("scorer:3", "canary"), 0.2, 0.01, at_s=1.0)
    [Joined(key=Key(model='scorer:3', role='canary'), score=0.2, label=1, latency_s=0.01)]
    """

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        if not ttl_s > 0 or max_entries < 1:
            raise ValueError("ttl_s must be positive and max_entries at least 1")
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries
        self.predictions: dict[str, _Predictions] = {}
        self.labels: dict[str, _Label] = {}
        self.unmatched = Unmatched()

    def add_prediction(
        self, event_id: str, key: Key, score: float, latency_s: float, at_s: float
    ) -> list[Joined]:
        label = self.labels.get(event_id)
        if label is not None:
            if key in label.met:
                return []  # delivered again
            label.met.add(key)
            return [Joined(key, score, label.label, latency_s)]
        waiting = self.predictions.get(event_id)
        if waiting is None:
            waiting = self.predictions[event_id] = _Predictions(at_s)
            self._bound(self.predictions)
        if all(k != key for k, _, _ in waiting.items):
            waiting.items.append((key, score, latency_s))
        return []

    def add_label(self, event_id: str, label: int, at_s: float) -> list[Joined]:
        if label not in (0, 1):
            raise ValueError(f"a label is 0 or 1, not {label!r}")
        if event_id in self.labels:
            return []  # the first label of an event stands
        waiting = self.predictions.pop(event_id, None)
        items = waiting.items if waiting is not None else []
        self.labels[event_id] = _Label(at_s, label, {k for k, _, _ in items})
        self._bound(self.labels)
        return [Joined(k, score, label, latency) for k, score, latency in items]

    def expire(self, now_s: float) -> None:
        """Drop what waited longer than ``ttl_s`` (oldest first: dicts keep insertion order)."""
        cutoff = now_s - self.ttl_s
        self._expire(self.predictions, cutoff)
        self._expire(self.labels, cutoff)

    def _expire(self, side: dict[str, _Predictions] | dict[str, _Label], cutoff: float) -> None:
        while side:
            event_id = next(iter(side))
            if side[event_id].at_s >= cutoff:
                break
            self._drop(side, event_id)

    def _bound(self, side: dict[str, _Predictions] | dict[str, _Label]) -> None:
        while len(side) > self.max_entries:
            self._drop(side, next(iter(side)))

    def _drop(self, side: dict[str, _Predictions] | dict[str, _Label], event_id: str) -> None:
        entry = side.pop(event_id)
        if isinstance(entry, _Predictions):
            self.unmatched.predictions += len(entry.items)
        elif not entry.met:
            self.unmatched.labels += 1

"""The label join: a model's prediction meets the event's true label, whichever comes first.

:class:`LabelJoin` works on a ``MutableMapping[str, dict]`` keyed by event id. In production
that mapping is a Faust table, so the join's state is changelogged (and recovered) by the
table's owner; in tests it is a plain dict. The side that arrives first is stored as a small
JSON-able dict; the second side removes it and yields a :class:`Match`. A repeated prediction
or label for a stored event id keeps the first. :meth:`LabelJoin.expire` drops what waited
longer than ``ttl_s`` and counts it: expired labels are the labels that never matched a
prediction (an unmatched label), expired predictions never got their label.

The agent feeds each ``Match.error`` (1 when the decision at 0.5 was wrong) to one
:func:`error_detector` per model version: a rising error rate is concept drift that the
feature distributions alone cannot show.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from river.drift.binary import DDM

DECISION_THRESHOLD = 0.5
_PREDICTION, _LABEL = "p", "l"


@dataclass(frozen=True, slots=True)
class Match:
    """A prediction joined with its label."""

    model_name: str
    model_version: str
    score: float
    label: int
    error: int


@dataclass(frozen=True, slots=True)
class Expired:
    """Entries dropped by one :meth:`LabelJoin.expire`, by side."""

    predictions: int
    labels: int


class LabelJoin:
    """Joins predictions and labels by event id, over a mapping owned by the caller.

    >>> join = LabelJoin({}, ttl_s=60)
    >>> join.add_label("e1", 1, at_s=0.0) is None
    True
    >>> join.add_prediction("e1", "fraud", "3", 0.2, at_s=1.0)
    Match(model_name='fraud', model_version='3', score=0.2, label=1, error=1)
    >>> join.add_label("e2", 0, at_s=2.0) is None
    True
    >>> join.expire(now_s=100.0)
    Expired(predictions=0, labels=1)
    """

    def __init__(self, table: MutableMapping[str, dict[str, Any]], ttl_s: float = 3600.0):
        if not ttl_s > 0:
            raise ValueError("ttl_s must be positive")
        self.table = table
        self.ttl_s = float(ttl_s)

    def add_prediction(
        self, event_id: str, model_name: str, model_version: str, score: float, at_s: float
    ) -> Match | None:
        """Store a prediction, or join it with the label already stored."""
        stored = self.table.get(event_id)
        if stored is None:
            self.table[event_id] = {
                "side": _PREDICTION,
                "model_name": model_name,
                "model_version": model_version,
                "score": float(score),
                "at_s": float(at_s),
            }
            return None
        if stored["side"] == _PREDICTION:
            return None
        del self.table[event_id]
        return _match(model_name, model_version, float(score), int(stored["label"]))

    def add_label(self, event_id: str, label: int, at_s: float) -> Match | None:
        """Store a label, or join it with the prediction already stored."""
        if label not in (0, 1):
            raise ValueError(f"a label is 0 or 1, not {label!r}")
        stored = self.table.get(event_id)
        if stored is None:
            self.table[event_id] = {"side": _LABEL, "label": int(label), "at_s": float(at_s)}
            return None
        if stored["side"] == _LABEL:
            return None
        del self.table[event_id]
        return _match(
            stored["model_name"], stored["model_version"], float(stored["score"]), int(label)
        )

    def expire(self, now_s: float) -> Expired:
        """Drop the entries stored more than ``ttl_s`` before ``now_s``; count them by side.

        It scans the whole mapping (of a Faust table, the partitions this worker owns), so
        the agent calls it on a timer, not per event."""
        cutoff = now_s - self.ttl_s
        old = [(k, v["side"]) for k, v in self.table.items() if v["at_s"] < cutoff]
        for key, _ in old:
            del self.table[key]
        labels = sum(side == _LABEL for _, side in old)
        return Expired(predictions=len(old) - labels, labels=labels)


def _match(model_name: str, model_version: str, score: float, label: int) -> Match:
    error = int((score >= DECISION_THRESHOLD) != bool(label))
    return Match(model_name, model_version, score, label, error)


def error_detector() -> DDM:
    """A drift detector for one model version's stream of ``Match.error`` (0 or 1).

    DDM flags a drift when the error rate rises three standard deviations above the lowest
    rate seen (warning at two). ``warm_start=1000``: DDM takes the lowest rate seen after the
    warm start as its baseline, and with river's default of 30 a fraud model that is right
    on its first 31 joined labels (likely, at an error rate of a few percent) gets a baseline
    of exactly 0, after which ONE error is a drift.
    """
    return DDM(warm_start=1000, warning_threshold=2.0, drift_threshold=3.0)

"""Live quality of one model version in one role: a sliding window of labelled predictions.

A :class:`QualityWindow` keeps the latest ``size`` labelled predictions of one (model, role)
in numpy ring buffers, so its memory is fixed whatever the traffic, and :meth:`summary`
computes every figure from the window in one numpy pass. AUC and log loss are
inference/gate.py's, the functions the promotion gate judges a candidate with.

What "wrong" means. The worker takes a decision from the score by the project's decider
(schemas/project/decisions.py). The guard takes the decider's *positive call* (the decision
that says "this is positive", the fraud example's highest threshold) as the model's call:
an event is an *error* when it was called positive and its label is 0 (a false positive),
or not called positive and its label is 1 (a miss). ``error_rate`` is errors over labelled
events; ``precision`` is the labelled-1 share of the called; ``recall`` is the called share
of the labelled-1. Each is NaN when undefined (no call, no positive; AUC without both
classes). The call is recomputed from the score by the same decider as the worker's, so it
equals the prediction's ``decision`` whenever the guard and the workers share the project.

Latency is the p99 of ``scored_at - event_time`` over the same window: what the events this
model decided waited, in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inference.gate import auc, log_loss
from schemas.project import Decider


@dataclass(frozen=True, slots=True)
class Quality:
    """The figures of one window (NaN where undefined)."""

    labelled: int
    auc: float
    precision: float
    recall: float
    logloss: float
    error_rate: float
    latency_p99_s: float

    def as_metrics(self) -> dict[str, float]:
        """Finite figures only, as a model event's metrics map."""
        values = {
            "labelled": float(self.labelled),
            "auc": self.auc,
            "precision": self.precision,
            "recall": self.recall,
            "logloss": self.logloss,
            "error_rate": self.error_rate,
            "latency_p99_s": self.latency_p99_s,
        }
        return {k: v for k, v in values.items() if math.isfinite(v)}


EMPTY = Quality(0, *(float("nan"),) * 6)


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def quality(
    scores: np.ndarray, labels: np.ndarray, latency_s: np.ndarray, decider: Decider
) -> Quality:
    """The figures of labelled predictions (any order); :data:`EMPTY` for none."""
    n = len(scores)
    if n == 0:
        return EMPTY
    y = labels.astype(bool)
    called = decider.decide_scores(scores) == decider.positive
    true_pos = int(np.sum(called & y))
    errors = int(np.sum(called != y))
    return Quality(
        labelled=n,
        auc=auc(labels, scores),
        precision=_ratio(true_pos, int(called.sum())),
        recall=_ratio(true_pos, int(y.sum())),
        logloss=log_loss(labels, scores),
        error_rate=errors / n,
        latency_p99_s=float(np.quantile(latency_s, 0.99)),
    )


class QualityWindow:
    """The latest ``size`` labelled predictions of one (model, role), in ring buffers.

    >>> w = QualityWindow(3)
    >>> for s, y in [(0.9, 1), (0.1, 0), (0.8, 0), (0.2, 1)]:
    ...     w.add(s, y, latency_s=0.01)
    >>> w.labelled, w.added
    (3, 4)
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window holds at least one prediction")
        self.size = size
        self.scores = np.zeros(size, dtype=np.float64)
        self.labels = np.zeros(size, dtype=np.int8)
        self.latency_s = np.zeros(size, dtype=np.float64)
        self.added = 0  # ever; the next slot is added % size

    @property
    def labelled(self) -> int:
        return min(self.added, self.size)

    def add(self, score: float, label: int, latency_s: float) -> None:
        slot = self.added % self.size
        self.scores[slot], self.labels[slot], self.latency_s[slot] = score, label, latency_s
        self.added += 1

    def clear(self) -> None:
        self.added = 0

    def summary(self, decider: Decider) -> Quality:
        n = self.labelled
        return quality(self.scores[:n], self.labels[:n], self.latency_s[:n], decider)


@dataclass(frozen=True, slots=True)
class Key:
    """A window's identity: ``model`` is ``name:version``; ``role`` primary, canary or shadow."""

    model: str
    role: str


class Windows:
    """One :class:`QualityWindow` per (model, role), made on first use."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.by_key: dict[Key, QualityWindow] = {}

    def add(self, key: Key, score: float, label: int, latency_s: float) -> None:
        window = self.by_key.get(key)
        if window is None:
            window = self.by_key[key] = QualityWindow(self.size)
        window.add(score, label, latency_s)

    def summary(self, key: Key, decider: Decider) -> Quality:
        window = self.by_key.get(key)
        return EMPTY if window is None else window.summary(decider)

    def clear(self, key: Key) -> None:
        window = self.by_key.get(key)
        if window is not None:
            window.clear()

    def drop(self, key: Key) -> None:
        self.by_key.pop(key, None)

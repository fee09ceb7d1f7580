"""The one home of decisions: a model's outputs become a score and a decision, by its task.

Every place that takes a decision from outputs (the worker, the golden-set and segment
gates, the guard, the shadow report) asks a :class:`Decider`, built from the model's entry
of the project file; none writes a threshold or a decision name of its own.

- binary: the output is the positive class's probability (one column, or the second of
  two); the decision is the one of the highest threshold the score reaches, ``default``
  below them all (``pass < 0.3 ≤ check < 0.7 ≤ block``);
- multiclass: one probability per class; the decision is the most probable class, or
  ``otherwise`` when its probability is under ``min_probability``; the score is that
  probability;
- regression: the output is the value, which is the score; the decision is the band the
  value falls in (``fast < 20 ≤ normal < 45 ≤ late``);
- ``decisions: none``: every decision is ``none`` (multiclass without decisions: the class).

Decisions are small integers (an index into :attr:`Decider.names`) wherever they are counted.

>>> d = Decider.binary({"check": 0.3, "block": 0.7}, "pass")
>>> d.names, d.decide(np.array([[0.1], [0.3], [0.9]])).tolist()
(('pass', 'check', 'block'), [0, 1, 2])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

NONE = "none"


@dataclass(frozen=True, slots=True)
class Decider:
    task: str  # binary, multiclass or regression
    names: tuple[str, ...]  # decision names, by index
    bounds: tuple[float, ...] = ()  # binary thresholds / regression band bounds, ascending
    classes: tuple[str, ...] = ()
    min_probability: float = 0.0
    positive: int | None = None  # binary: the index of the decision that calls "positive"
    none: bool = False  # every decision is "none"

    @classmethod
    def binary(
        cls,
        thresholds: Mapping[str, float],
        default: str,
        positive: str | None = None,
        classes: Sequence[str] = ("negative", "positive"),
    ) -> Decider:
        ordered = sorted(thresholds.items(), key=lambda kv: kv[1])
        names = (default, *(name for name, _ in ordered))
        if len(set(names)) != len(names):
            raise ValueError(f"decision names must differ: {', '.join(names)}")
        chosen = names.index(positive) if positive is not None else len(names) - 1
        return cls("binary", names, tuple(v for _, v in ordered), tuple(classes), positive=chosen)

    @classmethod
    def multiclass(
        cls, classes: Sequence[str], min_probability: float = 0.0, otherwise: str | None = None
    ) -> Decider:
        names = tuple(classes) + ((otherwise,) if otherwise and min_probability > 0 else ())
        return cls("multiclass", names, (), tuple(classes), min_probability)

    @classmethod
    def regression(cls, bands: Mapping[str, float], above: str) -> Decider:
        ordered = sorted(bands.items(), key=lambda kv: kv[1])
        names = (*(name for name, _ in ordered), above)
        return cls("regression", names, tuple(v for _, v in ordered))

    @classmethod
    def undecided(cls, task: str, classes: Sequence[str] = ()) -> Decider:
        """``decisions: none``: the outputs are recorded, every decision is ``none``."""
        return cls(task, (NONE,), (), tuple(classes), none=True)

    @property
    def width(self) -> int:
        """The output columns the task expects (a binary model may also give two)."""
        return len(self.classes) if self.task == "multiclass" else 1

    def fits(self, columns: int) -> bool:
        """Whether a model with ``columns`` outputs per row can be read by this task."""
        return columns == self.width or (self.task == "binary" and columns == 2)

    def outputs(self, raw: np.ndarray) -> np.ndarray:
        """The model's answer as (rows, columns) float64."""
        out = np.asarray(raw, dtype=np.float64)
        return out.reshape(len(out), -1)

    def scores(self, outputs: np.ndarray) -> np.ndarray:
        """One number per row: the positive probability, the top probability, the value."""
        out = self.outputs(outputs)
        if self.task == "multiclass":
            return out.max(axis=1) if out.shape[1] else np.zeros(len(out))
        return out[:, -1] if self.task == "binary" else out[:, 0]

    def decide(self, outputs: np.ndarray) -> np.ndarray:
        """The decision index of each row (int64)."""
        out = self.outputs(outputs)
        if self.none:
            return np.zeros(len(out), dtype=np.int64)
        if self.task == "multiclass":
            index = np.argmax(out, axis=1).astype(np.int64)
            if self.min_probability > 0 and len(self.names) > len(self.classes):
                index[out.max(axis=1) < self.min_probability] = len(self.classes)
            return index
        return self.decide_scores(self.scores(out))

    def decide_scores(self, scores: np.ndarray) -> np.ndarray:
        """Binary and regression: the decision of each score alone (what the gates, the
        guard and the report recompute from a prediction's ``score``)."""
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if self.none:
            return np.zeros(len(scores), dtype=np.int64)
        if self.task == "multiclass":
            raise ValueError("a multiclass decision needs every class's probability")
        bounds = np.asarray(self.bounds, dtype=np.float64)
        return np.searchsorted(bounds, scores, side="right").astype(np.int64)

    def names_of(self, index: np.ndarray) -> list[str]:
        names = np.array(self.names, dtype=object)
        return list(names[np.asarray(index, dtype=np.int64)])

    @property
    def positive_name(self) -> str | None:
        return None if self.positive is None else self.names[self.positive]

    def describe(self) -> str:
        """``pass < 0.3 ≤ check < 0.7 ≤ block``; ``the most probable of a, b, c``; ``none``."""
        if self.none:
            return "none (outputs only)"
        if self.task == "multiclass":
            text = f"the most probable of {', '.join(self.classes)}"
            if len(self.names) > len(self.classes):
                text += f"; {self.names[-1]} under p {self.min_probability:g}"
            return text
        parts = [self.names[0]]
        for bound, name in zip(self.bounds, self.names[1:], strict=True):
            parts.append(f"< {bound:g} ≤ {name}")
        text = " ".join(parts)
        if self.positive is not None:
            text += f" (positive: {self.names[self.positive]})"
        return text

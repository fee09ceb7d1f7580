"""Retrain a model on a labelled training set and gate it against the serving primary.

Pure (numpy and the project's trainer; no Kafka, no Triton): the retraining worker
(streams/retraining/) reads the set from the topics and scores the primary on Triton, then
hands both here.

The holdout is the LATEST ``holdout_share`` of the rows by event time, never a random
sample: a model is used on events that come after the ones it learnt from, so it is judged
the same way, and random rows would leak the holdout period's conditions into training.
The candidate is trained on the earlier rows only, by the project's trainer
(inference/trainer.py), and run here with the runtime Triton would use; the gate
(inference/gate.py) compares it with the primary on the holdout, then the golden-set gate
(inference/golden.py) and the per-segment gate (inference/segments.py) judge it too. A
candidate is accepted only when every gate passes; the reasons and metrics of all of them go
into the outcome. A set with too few labels or positives is rejected before any training.

The gates judge binary models (log loss, AUC, calibration on the positive probability). A
project of another task is refused before training, with the reason: its judging comes with
per-task metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.gate import GateConfig, gate, sample_reasons
from inference.golden import GoldenSet, golden_gate
from inference.segments import segment_gate
from inference.trainer import LocalModel, TrainedModel, Trainer, TrainingRows
from schemas.project import Decider

Scorer = Callable[[np.ndarray], np.ndarray]  # (n, width) float32 rows -> (n, columns) outputs


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Labelled rows: the model's inputs, labels (0/1, class index or value), the events'
    times (epoch ms), whether each row's entity features were known as of its event time
    (False: defaults were used), and the events' segments (strings; ``"none"`` for an event
    without one; None: all "none")."""

    x: np.ndarray
    y: np.ndarray
    event_time_ms: np.ndarray
    point_in_time: np.ndarray
    segments: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.x.ndim != 2 or len(self.x) != n:
            raise ValueError(f"x must have {n} rows, got {self.x.shape}")
        if self.event_time_ms.shape != (n,) or self.point_in_time.shape != (n,):
            raise ValueError("event_time_ms and point_in_time need one entry per row")
        if self.segments is not None and self.segments.shape != (n,):
            raise ValueError("segments need one entry per row")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def positives(self) -> int:
        return int(np.sum(self.y == 1))

    def take(self, index: np.ndarray) -> TrainingSet:
        segments = None if self.segments is None else self.segments[index]
        return TrainingSet(
            self.x[index],
            self.y[index],
            self.event_time_ms[index],
            self.point_in_time[index],
            segments,
        )

    def segment_names(self) -> np.ndarray:
        """Each row's segment, ``"none"`` where it has none."""
        if self.segments is None:
            return np.full(len(self), "none", dtype=object)
        return np.array(["none" if s is None else str(s) for s in self.segments], dtype=object)


@dataclass(frozen=True, slots=True)
class Recipe:
    """How a candidate is made: the trainer, its params, the seed, the holdout, and what it
    is trained for (the project's columns, task, classes)."""

    trainer: Trainer
    params: Mapping[str, Any]
    columns: tuple[str, ...]
    task: str = "binary"
    classes: tuple[str, ...] = ()
    seed: int = 0
    holdout_share: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.holdout_share < 1:
            raise ValueError(f"holdout_share must be in (0, 1), got {self.holdout_share}")

    def train(self, x: np.ndarray, y: np.ndarray) -> TrainedModel:
        rows = TrainingRows(np.ascontiguousarray(x, dtype=np.float32),
                            np.asarray(y, dtype=np.float64), self.columns, self.task,
                            self.classes, self.seed)  # fmt: skip
        trained = self.trainer(rows, dict(self.params))
        if not isinstance(trained, TrainedModel):
            raise TypeError(f"the trainer returned {type(trained).__name__}, not a TrainedModel")
        return trained


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """What retraining decided. ``model`` and ``train_x`` (its training rows, for its
    reference distributions) are set whenever a candidate was trained, accepted or not."""

    accepted: bool
    reasons: list[str]
    metrics: dict[str, float]
    model: TrainedModel | None = None
    train_x: np.ndarray | None = None


def split_by_time(event_time_ms: np.ndarray, holdout_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, holdout) row indices: the holdout is the latest ``holdout_share`` of rows by
    event time (ties keep input order), each part in time order."""
    order = np.argsort(event_time_ms, kind="stable")
    n_holdout = math.ceil(len(order) * holdout_share)
    cut = len(order) - n_holdout
    return order[:cut], order[cut:]


def retrain(
    data: TrainingSet,
    primary: Scorer,
    gate_config: GateConfig,
    recipe: Recipe,
    decider: Decider,
    golden: GoldenSet | None = None,
    on_step: Callable[[str], None] | None = None,
) -> RetrainOutcome:
    """Train a candidate on the earlier rows, score the holdout with it and with
    ``primary``, and gate it: the holdout gate, the per-segment gate and, given ``golden``,
    the golden-set gate (the primary scores it too, for comparison), all at ``decider``'s
    decisions. Too few labels or positives: rejected before training.

    ``on_step`` is told ``"training"`` as training starts and ``"gating"`` as the holdout
    scoring starts (never, for a set rejected before training): the retraining worker's
    metrics time the two apart without this module knowing of them."""
    step = on_step or (lambda _step: None)
    metrics = {
        "rows": float(len(data)),
        "positives": float(data.positives),
        "point_in_time_share": float(np.mean(data.point_in_time)) if len(data) else 0.0,
    }
    if recipe.task != "binary":
        reason = (f"retraining gates judge binary models; a {recipe.task} model's gates come "
                  "with per-task judging")  # fmt: skip
        return RetrainOutcome(False, [reason], metrics)
    too_small = sample_reasons(len(data), data.positives, gate_config)
    if too_small:
        return RetrainOutcome(False, too_small, metrics)
    train_idx, holdout_idx = split_by_time(data.event_time_ms, recipe.holdout_share)
    train, holdout = data.take(train_idx), data.take(holdout_idx)
    metrics["train_rows"] = float(len(train))
    metrics["train_positives"] = float(train.positives)
    if train.positives == 0 or train.positives == len(train):
        reason = "the training part has only one class: nothing to learn"
        return RetrainOutcome(False, [reason], metrics)
    step("training")
    trained = recipe.train(train.x, train.y)
    metrics.update(trained.metrics)
    step("gating")
    candidate = LocalModel.of(trained)
    candidate_out = candidate.predict(holdout.x)
    primary_out = decider.outputs(primary(holdout.x))
    candidate_scores = decider.scores(candidate_out)
    primary_scores = decider.scores(primary_out)
    decision = gate(candidate_scores, primary_scores, holdout.y, gate_config)
    reasons, metrics = list(decision.reasons), {**metrics, **decision.metrics}
    if np.all(np.isfinite(candidate_scores)):
        judged = [
            segment_gate(candidate_scores, primary_scores, holdout.y, holdout.segment_names(),
                         decider, gate_config),
        ]  # fmt: skip
        if golden is not None and len(golden):
            judged.append(golden_gate(candidate.predict(golden.x), primary(golden.x), golden,
                                      decider, gate_config.golden_max_flips))  # fmt: skip
        for more in judged:
            reasons += more.reasons
            metrics.update(more.metrics)
    return RetrainOutcome(not reasons, reasons, metrics, model=trained, train_x=train.x)

"""Retrain a model on a labelled training set and gate it against the serving primary.

Pure (numpy and torch; no Kafka, no Triton): the retraining worker (streams/retraining/)
reads the set from the topics and scores the primary on Triton, then hands both here.

The holdout is the LATEST ``holdout_share`` of the rows by event time, never a random
sample: a model is used on events that come after the ones it learnt from, so it is judged
the same way, and random rows would leak the holdout period's conditions into training.
The candidate is trained on the earlier rows only; the gate (inference/gate.py) compares it
with the primary on the holdout, then the golden-set gate (inference/golden.py) and the
per-segment gate (inference/segments.py) judge it too, when the caller gives the decision
thresholds (the retraining worker always does: the scoring workers'). A candidate is accepted
only when every gate passes; the reasons and metrics of all of them go into the outcome. A
set with too few labels or positives is rejected before any training.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from inference.gate import GateConfig, gate, sample_reasons
from inference.golden import Decisions, GoldenSet, default_set, golden_gate
from inference.mlp import ScoringMLP
from inference.segments import segment_gate
from inference.training import TrainConfig, train_mlp
from schemas.features import N_FEATURES

Scorer = Callable[[np.ndarray], np.ndarray]  # (n, N_FEATURES) float32 rows -> n probabilities


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Labelled rows: features, 0/1 labels, the events' times (epoch ms), whether each
    row's entity features were known as of its event time (False: defaults were used), and
    the events' segments (strings; ``"none"`` for an event without one; None: all "none")."""

    x: np.ndarray
    y: np.ndarray
    event_time_ms: np.ndarray
    point_in_time: np.ndarray
    segments: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.x.shape != (n, N_FEATURES):
            raise ValueError(f"x must be ({n}, {N_FEATURES}), got {self.x.shape}")
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
class RetrainConfig:
    holdout_share: float = 0.25
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if not 0 < self.holdout_share < 1:
            raise ValueError(f"holdout_share must be in (0, 1), got {self.holdout_share}")


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """What retraining decided. ``model`` and ``train_x`` (its training rows, for its
    reference distributions) are set whenever a candidate was trained, accepted or not."""

    accepted: bool
    reasons: list[str]
    metrics: dict[str, float]
    model: ScoringMLP | None = None
    train_x: np.ndarray | None = None


def split_by_time(event_time_ms: np.ndarray, holdout_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, holdout) row indices: the holdout is the latest ``holdout_share`` of rows by
    event time (ties keep input order), each part in time order."""
    order = np.argsort(event_time_ms, kind="stable")
    n_holdout = math.ceil(len(order) * holdout_share)
    cut = len(order) - n_holdout
    return order[:cut], order[cut:]


def scores_of(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return np.asarray(out.numpy(), dtype=np.float64).reshape(-1)


def retrain(
    data: TrainingSet,
    primary: Scorer,
    gate_config: GateConfig,
    config: RetrainConfig = RetrainConfig(),
    on_step: Callable[[str], None] | None = None,
    decisions: Decisions | None = None,
    golden: GoldenSet | None = None,
) -> RetrainOutcome:
    """Train a candidate on the earlier rows, score the holdout with it and with
    ``primary``, and gate it. Too few labels or positives: rejected before training.

    With ``decisions`` (the thresholds from score to decision), the golden-set gate (on
    ``golden``, by default the committed set; the primary scores it too, for comparison) and
    the per-segment gate run as well; without, only the holdout gate does.

    ``on_step`` is told ``"training"`` as training starts and ``"gating"`` as the holdout
    scoring starts (never, for a set rejected before training): the retraining worker's
    metrics time the two apart without this module knowing of them."""
    step = on_step or (lambda _step: None)
    metrics = {
        "rows": float(len(data)),
        "positives": float(data.positives),
        "point_in_time_share": float(np.mean(data.point_in_time)) if len(data) else 0.0,
    }
    too_small = sample_reasons(len(data), data.positives, gate_config)
    if too_small:
        return RetrainOutcome(False, too_small, metrics)
    train_idx, holdout_idx = split_by_time(data.event_time_ms, config.holdout_share)
    train, holdout = data.take(train_idx), data.take(holdout_idx)
    metrics["train_rows"] = float(len(train))
    metrics["train_positives"] = float(train.positives)
    if train.positives == 0 or train.positives == len(train):
        reason = "the training part has only one class: nothing to learn"
        return RetrainOutcome(False, [reason], metrics)
    step("training")
    result = train_mlp(train.x, train.y, config.train)
    metrics["final_loss"] = result.final_loss
    step("gating")
    candidate_scores = scores_of(result.model, holdout.x)
    primary_scores = np.asarray(primary(holdout.x), dtype=np.float64).reshape(-1)
    decision = gate(candidate_scores, primary_scores, holdout.y, gate_config)
    reasons, metrics = list(decision.reasons), {**metrics, **decision.metrics}
    if decisions is not None and np.all(np.isfinite(candidate_scores)):
        golden = golden or default_set()
        for more in (
            segment_gate(
                candidate_scores, primary_scores, holdout.y, holdout.segment_names(),
                decisions, gate_config,
            ),
            golden_gate(
                scores_of(result.model, golden.x), np.asarray(primary(golden.x)),
                golden, decisions, gate_config.golden_max_flips,
            ),
        ):  # fmt: skip
            reasons += more.reasons
            metrics.update(more.metrics)
    return RetrainOutcome(
        not reasons,
        reasons,
        metrics,
        model=result.model,
        train_x=train.x,
    )

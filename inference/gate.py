"""The promotion gate: may a retrained candidate join the serving models as a shadow?

Pure numpy. Both models are scored on the same holdout (the latest events by event time,
inference/retraining.py), so every comparison is paired. A candidate passes when it is no
worse than the serving primary within a margin on log loss AND on AUC, when it ranks at all
(an AUC floor: a candidate trained on noise is refused even when the primary is as bad),
and when its probabilities are calibrated. The golden-set gate (inference/golden.py) and
the per-segment gate (inference/segments.py) judge it further; inference/retraining.py runs
all three and keeps every reason. Each failed check adds one human sentence with
the numbers to the decision's reasons; the metrics go into the retraining result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import Field

from infra.config import Section

EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS]: one sure miss is not infinite loss
N_CALIBRATION_BINS = 10


class GateConfig(Section):
    """What a candidate must show on the holdout (``STREAMSCORE_RETRAIN_GATE_*``)."""

    env_prefix: ClassVar[str] = "RETRAIN_GATE_"

    logloss_margin: float = Field(
        0.01, ge=0, description="Candidate log loss may exceed the primary's by at most this."
    )
    auc_margin: float = Field(
        0.01, ge=0, description="Candidate AUC may fall below the primary's by at most this."
    )
    min_auc: float = Field(
        0.6, ge=0, le=1, description="AUC floor: a candidate below it learnt nothing usable."
    )
    max_calibration_error: float = Field(
        0.05, ge=0, le=1, description="Largest expected calibration error (10 bins) accepted."
    )
    min_labels: int = Field(
        2000, ge=1, description="Labelled events needed before training is even tried."
    )
    min_positives: int = Field(
        30, ge=1, description="Positive labels needed before training is even tried."
    )
    golden_max_flips: int = Field(
        2, ge=0, description="Golden-set events the candidate may decide otherwise than "
        "expected (inference/golden.py; the project's gates.golden).",
    )  # fmt: skip
    segment_min_rows: int = Field(
        500, ge=1, description="Holdout events a segment needs to be judged by the segment gate."
    )
    segment_min_positives: int = Field(
        30, ge=1, description="Positive labels a segment needs to be judged by the segment gate."
    )
    segment_positive_margin: float = Field(
        0.05, ge=0, le=1, description="Largest gap between the candidate's and the primary's "
        "positive rate (the share given the positive decision) in a judged segment.",
    )  # fmt: skip
    segment_auc_margin: float = Field(
        0.05, ge=0, le=1, description="Candidate AUC in a judged segment may fall below the "
        "primary's by at most this.",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class GateDecision:
    accepted: bool
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def _arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError(f"need as many scores as labels, at least one: {len(p)} and {len(y)}")
    return y, p


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities ``p`` for 0/1 labels ``y`` (natural log)."""
    y, p = _arrays(y, p)
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney U); tied scores share their mean
    rank, so a tie between a positive and a negative counts one half. NaN without both
    classes."""
    y, s = _arrays(y, scores)
    positives = int(np.sum(y == 1))
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    _, first, counts = np.unique(s[order], return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0  # 1-based mean rank of each group of ties
    ranks = np.empty(len(s))
    ranks[order] = np.repeat(mean_rank, counts)
    u = ranks[y == 1].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = N_CALIBRATION_BINS) -> float:
    """Expected calibration error: over equal-width bins of ``p`` on [0, 1], the mean of
    |mean score - positive share| weighted by the bin's share of rows (1.0 falls in the
    last bin); NaN when a score is not finite."""
    y, p = _arrays(y, p)
    if not np.all(np.isfinite(p)):
        return float("nan")
    index = np.clip((np.clip(p, 0.0, 1.0) * bins).astype(np.int64), 0, bins - 1)
    score_sums = np.bincount(index, weights=p, minlength=bins)
    label_sums = np.bincount(index, weights=y, minlength=bins)
    return float(np.sum(np.abs(score_sums - label_sums)) / len(y))


def sample_reasons(rows: int, positives: int, config: GateConfig) -> list[str]:
    """Why a training set is too small to train on at all; empty when it is big enough."""
    reasons = []
    if rows < config.min_labels:
        reasons.append(f"only {rows} labelled events in the range; at least {config.min_labels}")
    if positives < config.min_positives:
        reasons.append(
            f"only {positives} positive labels in the range; at least {config.min_positives}"
        )
    return reasons


def gate(
    candidate_scores: np.ndarray,
    primary_scores: np.ndarray,
    y: np.ndarray,
    config: GateConfig,
) -> GateDecision:
    """Compare the candidate with the primary on the same holdout rows and labels ``y``."""
    y, candidate = _arrays(y, candidate_scores)
    _, primary = _arrays(y, primary_scores)
    metrics = {"holdout_rows": float(len(y)), "holdout_positives": float(np.sum(y == 1))}
    if not np.all(np.isfinite(candidate)):
        return GateDecision(
            False, ["the candidate gives non-finite scores on the holdout"], metrics
        )
    for who, scores in (("candidate", candidate), ("primary", primary)):
        metrics[f"{who}_logloss"] = log_loss(y, scores)
        metrics[f"{who}_auc"] = auc(y, scores)
        metrics[f"{who}_calibration_error"] = calibration_error(y, scores)
    reasons = _reasons(metrics, config)
    return GateDecision(not reasons, reasons, metrics)


def _reasons(m: dict[str, float], config: GateConfig) -> list[str]:
    if np.isnan(m["candidate_auc"]):
        return ["the holdout lacks positives or negatives: AUC is undefined, nothing to compare"]
    reasons = []
    if m["candidate_auc"] < config.min_auc:
        reasons.append(
            f"candidate AUC {m['candidate_auc']:.3f} is below the floor of {config.min_auc:.3f}:"
            " it learnt nothing usable"
        )
    if m["candidate_logloss"] > m["primary_logloss"] + config.logloss_margin:
        reasons.append(
            f"candidate log loss {m['candidate_logloss']:.4f} is worse than the primary's "
            f"{m['primary_logloss']:.4f} by more than {config.logloss_margin:.4f}"
        )
    # A primary without a usable AUC (NaN) sets no bar here; the floor above still holds.
    if m["candidate_auc"] < m["primary_auc"] - config.auc_margin:
        reasons.append(
            f"candidate AUC {m['candidate_auc']:.3f} is below the primary's "
            f"{m['primary_auc']:.3f} by more than {config.auc_margin:.3f}"
        )
    if m["candidate_calibration_error"] > config.max_calibration_error:
        reasons.append(
            f"candidate calibration error {m['candidate_calibration_error']:.4f} exceeds "
            f"{config.max_calibration_error:.4f}"
        )
    return reasons

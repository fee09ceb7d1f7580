"""The per-segment bias gate: a candidate may not treat one segment of customers worse.

The holdout gate (inference/gate.py) compares candidate and primary over all rows, where a
small segment weighs little: a candidate can be better on average and worse for one segment.
So on the same holdout, per ``segment`` (the project's segment field; no segment is
``"none"``), both models' *positive rates* (the share of events given the decider's positive
decision, e.g. the fraud example's third one) and AUCs are computed, and a segment with at
least ``segment_min_rows`` rows and ``segment_min_positives`` positive labels rejects the
candidate when

- its positive rate differs from the primary's by more than ``segment_positive_margin``
  (either way: calling a segment positive much more, or much less, than the serving model
  is a change of policy for those customers that nobody decided), or
- its AUC is below the primary's by more than ``segment_auc_margin``.

Smaller segments are reported in the metrics and not judged: their rates are noise. Metric
names carry the segment, lowercased, with any run of other characters than letters and
digits as ``_``: ``segment_<name>_rows``, ``..._positives``, ``..._candidate_positive_rate``,
``..._primary_positive_rate``, ``..._candidate_auc``, ``..._primary_auc`` (AUC only where the
segment has both classes).
"""

from __future__ import annotations

import re

import numpy as np

from inference.gate import GateConfig, GateDecision, auc
from schemas.project import Decider


def metric_name(segment: str) -> str:
    """``segment_<name>``: the name lowercased, other characters than [a-z0-9] as ``_``."""
    return "segment_" + (re.sub(r"[^a-z0-9]+", "_", segment.lower()).strip("_") or "none")


def segment_gate(
    candidate_scores: np.ndarray,
    primary_scores: np.ndarray,
    y: np.ndarray,
    segments: np.ndarray,
    decider: Decider,
    config: GateConfig,
) -> GateDecision:
    """Judge each big enough segment of the holdout (rows aligned across the arrays); the
    scores are a binary model's positive probabilities."""
    candidate = np.asarray(candidate_scores, dtype=np.float64).reshape(-1)
    primary = np.asarray(primary_scores, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    names = np.array(["none" if s is None else str(s) for s in segments], dtype=object)
    if not len(candidate) == len(primary) == len(y) == len(names):
        raise ValueError("need one candidate score, primary score, label and segment per row")
    positive = decider.positive
    positives_of = {
        "candidate": decider.decide_scores(candidate) == positive,
        "primary": decider.decide_scores(primary) == positive,
    }
    metrics: dict[str, float] = {}
    reasons: list[str] = []
    for segment in sorted(set(names.tolist())):
        rows = names == segment
        key, n, positives = metric_name(segment), int(rows.sum()), int(y[rows].sum())
        m = {"rows": float(n), "positives": float(positives)}
        for who, scores in (("candidate", candidate), ("primary", primary)):
            m[f"{who}_positive_rate"] = float(positives_of[who][rows].mean())
            if 0 < positives < n:
                m[f"{who}_auc"] = auc(y[rows], scores[rows])
        metrics.update({f"{key}_{k}": v for k, v in m.items()})
        if n >= config.segment_min_rows and positives >= config.segment_min_positives:
            reasons += _judge(segment, m, config)
    return GateDecision(not reasons, reasons, metrics)


def _judge(segment: str, m: dict[str, float], config: GateConfig) -> list[str]:
    reasons = []
    gap = m["candidate_positive_rate"] - m["primary_positive_rate"]
    if abs(gap) > config.segment_positive_margin:
        reasons.append(
            f"segment {segment!r}: the candidate calls {m['candidate_positive_rate']:.1%} of "
            f"its {m['rows']:.0f} holdout events positive, the primary "
            f"{m['primary_positive_rate']:.1%}: a gap of more than "
            f"{config.segment_positive_margin:.1%}"
        )
    if "candidate_auc" in m and m["candidate_auc"] < m["primary_auc"] - config.segment_auc_margin:
        reasons.append(
            f"segment {segment!r}: candidate AUC {m['candidate_auc']:.3f} is below the "
            f"primary's {m['primary_auc']:.3f} by more than {config.segment_auc_margin:.3f} "
            f"({m['rows']:.0f} holdout events, {m['positives']:.0f} positive)"
        )
    return reasons

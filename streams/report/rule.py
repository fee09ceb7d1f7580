"""The promotion rule: promote, keep shadowing, or reject, from a report's figures.

The same function decides the report's recommendation line and `streamscore models promote`'s
gate, so the two can never disagree. A shadow is judged on labelled pairs, because agreement
with the primary says nothing about who is right:

- **reject** when, with 95 % confidence, it is worse than the primary by more than a margin
  (log loss or AUC), when its calibration error is above the limit, or when its model-server
  time is far above the primary's;
- **promote** when it is shown no worse within the margins (the whole confidence interval of
  the difference inside them), calibrated, fast enough, and it scored nearly every event;
- **keep shadowing** otherwise: too few pairs or labels, low coverage, or an interval that
  still straddles a margin. Each reason is one sentence with its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import Field

from infra.config import Section

PROMOTE, KEEP, REJECT = "promote", "keep shadowing", "reject"


class PromotionRule(Section):
    """Thresholds of the promotion rule (``STREAMSCORE_PROMOTION_*``)."""

    env_prefix: ClassVar[str] = "PROMOTION_"

    min_pairs: int = Field(1000, ge=1, description="Joined pairs needed to judge at all.")
    min_coverage: float = Field(
        0.99, ge=0, le=1, description="Share of primary outputs the shadow must have scored."
    )
    min_labels: int = Field(
        500, ge=1, description="Labelled pairs (with both outcomes) needed to promote."
    )
    logloss_margin: float = Field(
        0.01, ge=0, description="Shadow log loss may exceed the primary's by at most this."
    )
    auc_margin: float = Field(
        0.01, ge=0, description="Shadow AUC may fall below the primary's by at most this."
    )
    max_ece: float = Field(
        0.05, ge=0, le=1, description="Largest expected calibration error of the shadow."
    )
    max_latency_ratio: float = Field(
        3.0, gt=0, description="Shadow p99 model-server time / the primary's, at most."
    )


@dataclass(frozen=True, slots=True)
class Recommendation:
    verdict: str
    line: str
    reasons: list[str] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """What a report.json holds under ``recommendation``."""
        return {"verdict": self.verdict, "line": self.line, "reasons": self.reasons,
                "thresholds": self.thresholds}  # fmt: skip


def _ci(x: list[float] | None) -> str:
    return "n/a" if not x else f"[{x[0]:+.4f}, {x[1]:+.4f}]"


def recommend(report: dict[str, Any], rule: PromotionRule) -> Recommendation:
    """The verdict for ``report["shadow"]`` against ``report["primary"]``."""
    shadow, cov = report["shadow"], report["coverage"]
    rejects: list[str] = []
    keeps: list[str] = []
    joined = cov["joined"]
    if joined < rule.min_pairs:
        keeps.append(f"only {joined:,} joined pairs; the rule needs {rule.min_pairs:,}")
    coverage = cov.get("shadow_coverage")
    if coverage is not None and coverage < rule.min_coverage:
        keeps.append(
            f"the shadow scored {coverage:.2%} of the primary's events; "
            f"the rule needs {rule.min_coverage:.2%}"
        )
    _latency(report, rule, rejects)
    evidence = _labels(report.get("labels"), rule, rejects, keeps)
    verdict = REJECT if rejects else KEEP if keeps else PROMOTE
    reasons = rejects or keeps or evidence
    line = f"{verdict} {shadow}: " + "; ".join(reasons if verdict != PROMOTE else evidence)
    return Recommendation(verdict, line, reasons, rule.model_dump())


def _latency(report: dict[str, Any], rule: PromotionRule, rejects: list[str]) -> None:
    models = report.get("latency", {}).get("models", {})
    primary = models.get(report["primary"], {}).get("infer_ms", {}).get("p99")
    shadow = models.get(report["shadow"], {}).get("infer_ms", {}).get("p99")
    if primary and shadow and shadow > rule.max_latency_ratio * primary:
        rejects.append(
            f"shadow p99 model time {shadow:.3g} ms is {shadow / primary:.1f}x the primary's "
            f"{primary:.3g} ms (limit {rule.max_latency_ratio:g}x)"
        )


def _labels(
    labels: dict[str, Any] | None, rule: PromotionRule, rejects: list[str], keeps: list[str]
) -> list[str]:
    """Adds the label-based reasons; returns the evidence sentences a promotion cites."""
    n = labels["n"] if labels else 0
    positives = labels["positives"] if labels else 0
    if n < rule.min_labels or positives in (0, n):
        keeps.append(
            f"{n:,} labelled pairs ({positives:,} positive); the rule needs {rule.min_labels:,} "
            "with both outcomes"
        )
        return []
    assert labels is not None
    models = labels["models"]
    return judge_on_labels(
        "shadow", models["shadow"], models["primary"], labels["tests"],
        f"{n:,} labelled pairs", rule, rejects, keeps,
    )  # fmt: skip


def judge_on_labels(
    who: str, candidate: dict[str, Any], baseline: dict[str, Any], tests: dict[str, Any],
    labelled: str, rule: PromotionRule, worse: list[str], keeps: list[str],
) -> list[str]:  # fmt: skip
    """The label-based part of the rule, shared by the shadow and split modes: adds to
    ``worse`` (shown worse beyond a margin, or miscalibrated) and ``keeps`` (not yet shown
    within the margins); returns the evidence sentences a promotion cites. ``candidate`` and
    ``baseline`` carry logloss, auc and ece; ``tests`` the logloss and auc differences."""
    ll, auc = tests["logloss"], tests["auc"]
    evidence = [
        f"log loss {_fmt(candidate['logloss'])} vs {_fmt(baseline['logloss'])} "
        f"(Δ 95% CI {_ci(ll['ci'])}, margin {rule.logloss_margin:g})",
        f"AUC {_fmt(candidate['auc'])} vs {_fmt(baseline['auc'])} "
        f"(Δ 95% CI {_ci(auc['ci'])}, margin {rule.auc_margin:g})",
        f"ECE {_fmt(candidate['ece'])} (limit {rule.max_ece:g})",
        labelled,
    ]
    if ll["ci"] and ll["ci"][0] > rule.logloss_margin:
        worse.append(f"log loss is worse beyond the margin: {evidence[0]}")
    elif not ll["ci"] or ll["ci"][1] > rule.logloss_margin:
        keeps.append(f"log loss not yet shown within the margin: {evidence[0]}")
    if auc["ci"] and auc["ci"][1] < -rule.auc_margin:
        worse.append(f"AUC is worse beyond the margin: {evidence[1]}")
    elif not auc["ci"] or auc["ci"][0] < -rule.auc_margin:
        keeps.append(f"AUC not yet shown within the margin: {evidence[1]}")
    if candidate["ece"] is None or candidate["ece"] > rule.max_ece:
        worse.append(f"the {who} is miscalibrated: {evidence[2]}")
    return evidence


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"

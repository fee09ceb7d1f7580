"""The canary's verdict in split mode: promote, keep, or roll back, from the arms' figures.

The promotion rule's own thresholds (streams/report/rule.py, ``STREAMSCORE_PROMOTION_*``)
judge it, read for two arms instead of two models on the same events: the canary is judged
on its arm's outcomes against the primary arm's, through the unpaired tests of
streams/report/unpaired.py.

- **rollback** when, with 95 % confidence, the canary arm's log loss is worse than the
  primary arm's by more than the margin, or its AUC worse by more than the margin; when its
  calibration error is above the limit; or when its p99 model time is more than the allowed
  multiple of the primary's;
- **promote** when it is shown no worse within both margins (the whole interval of each
  difference inside them), with enough events and labels (both outcomes) in each arm;
- **keep** (the canary keeps its share, more evidence needed) otherwise, each reason one
  sentence with its numbers.

The positive and error rates are reported with their tests but judge nothing: a canary that
calls more events positive is not wrong for it, and its labels already say whether it is
right.
"""

from __future__ import annotations

from typing import Any

from streams.report.rule import PromotionRule, Recommendation, judge_on_labels

PROMOTE, KEEP, ROLLBACK = "promote", "keep", "rollback"


def recommend_split(report: dict[str, Any], rule: PromotionRule) -> Recommendation:
    """The verdict for ``report["canary"]`` against ``report["primary"]``."""
    primary, canary = report["arms"]["primary"], report["arms"]["canary"]
    rollbacks: list[str] = []
    keeps: list[str] = []
    labelled = True
    for name, arm in (("primary", primary), ("canary", canary)):
        if arm["events"] < rule.min_pairs:
            keeps.append(
                f"the {name} arm has {arm['events']:,} events; the rule needs {rule.min_pairs:,}"
            )
        n, positives = arm["labelled"], arm["positives"]
        if n < rule.min_labels or positives in (0, n):
            labelled = False
            keeps.append(
                f"the {name} arm has {n:,} labelled events ({positives:,} positive); the rule "
                f"needs {rule.min_labels:,} with both outcomes"
            )
    p99 = [arm["latency"]["infer_ms"]["p99"] for arm in (primary, canary)]
    if p99[0] and p99[1] and p99[1] > rule.max_latency_ratio * p99[0]:
        rollbacks.append(
            f"canary p99 model time {p99[1]:.3g} ms is {p99[1] / p99[0]:.1f}x the primary's "
            f"{p99[0]:.3g} ms (limit {rule.max_latency_ratio:g}x)"
        )
    evidence = _labels(report, rule, rollbacks, keeps) if labelled else []
    verdict = ROLLBACK if rollbacks else KEEP if keeps else PROMOTE
    reasons = rollbacks or keeps or evidence
    line = f"{verdict} canary {report['canary']}: " + "; ".join(reasons)
    return Recommendation(verdict, line, reasons, rule.model_dump())


def _labels(
    report: dict[str, Any], rule: PromotionRule, rollbacks: list[str], keeps: list[str]
) -> list[str]:
    """Adds the label-based reasons (both arms have enough labels); returns the evidence
    sentences a promotion cites."""
    primary, canary = report["arms"]["primary"], report["arms"]["canary"]
    labelled = f"{canary['labelled']:,} and {primary['labelled']:,} labelled events"
    return judge_on_labels(
        "canary", canary, primary, report["tests"], labelled, rule, rollbacks, keeps
    )

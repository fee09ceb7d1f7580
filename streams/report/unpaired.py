"""Is the canary arm better or worse than the primary arm, beyond chance? Unpaired tests.

In split mode (`streamscore report shadow --split`) each event is decided by ONE model, the
primary or the canary, by a hash of its entity (streams/routing/split.py): the arms are two
independent samples, not pairs, so the paired tests of streams/report/significance.py do not
apply. Same contract as there: deltas are the second arm minus the first (canary minus
primary), 95% intervals, two-sided p-values, None for what is undefined, plain JSON-able
results carrying ``delta``, ``ci``, ``p_value`` and ``method``.

Events are treated as independent. Events of one entity are not quite (they are always in
the same arm): with many entities per arm the effect is small, but a few entities with most
of the events would make these intervals too narrow.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from inference.gate import log_loss
from streams.report.significance import (
    Difference,
    _auc_ci,
    _components,
    _event_losses,
    _normal,
    _two_sided_p,
)
from streams.report.stats import finite_or_none, paired, wilson


class ProportionDifference(Difference):
    rate1: float | None
    rate2: float | None
    x1: int
    n1: int
    x2: int
    n2: int


class AucDifference(Difference):
    auc1: float | None
    auc2: float | None
    auc1_ci: list[float] | None
    auc2_ci: list[float] | None


class LoglossArms(Difference):
    logloss1: float | None
    logloss2: float | None


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> ProportionDifference:
    """``x2 / n2 - x1 / n1``: the two-proportion z test with the pooled rate for the p-value
    (the same as Pearson's chi-square on the 2x2 table, uncorrected) and Newcombe's (1998)
    hybrid score interval from the two Wilson intervals (his method 10), which stays inside
    [-1, 1] and keeps its coverage at rates near 0 or 1, where the Wald interval does not."""
    for x, n in ((x1, n1), (x2, n2)):
        if not 0 <= x <= n:
            raise ValueError(f"need 0 <= successes <= n, got {x} of {n}")
    result: ProportionDifference = {
        "n": n1 + n2, "x1": x1, "n1": n1, "x2": x2, "n2": n2,
        "rate1": x1 / n1 if n1 else None, "rate2": x2 / n2 if n2 else None,
        "delta": None, "ci": None, "p_value": None,
        "method": "two-proportion z test, Newcombe interval",
    }  # fmt: skip
    ci1, ci2 = wilson(x1, n1), wilson(x2, n2)
    if ci1 is None or ci2 is None:
        return result
    p1, p2 = x1 / n1, x2 / n2
    delta = p2 - p1
    lower = delta - math.sqrt((p2 - ci2[0]) ** 2 + (ci1[1] - p1) ** 2)
    upper = delta + math.sqrt((ci2[1] - p2) ** 2 + (p1 - ci1[0]) ** 2)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p_value = (1.0 if delta == 0 else 0.0) if se == 0 else _two_sided_p(delta / se)
    result |= {"delta": delta, "ci": [lower, upper], "p_value": p_value}
    return result


def auc_variance(y: ArrayLike, s: ArrayLike) -> tuple[float | None, float | None]:
    """One model's AUC (ties count one half) and its DeLong variance, from the structural
    components of streams/report/significance.py: var(V10)/m + var(V01)/n. The AUC is None
    without both classes or with a NaN score; the variance None with fewer than 2 of a
    class."""
    labels, scores = paired(y, s)
    positive = labels == 1
    m = int(np.count_nonzero(positive))
    n = len(labels) - m
    if m == 0 or n == 0 or np.isnan(scores).any():
        return None, None
    components = _components(positive, scores)
    v10, v01 = components[positive], components[~positive]
    auc = float(np.mean(v10))
    if m < 2 or n < 2:
        return auc, None
    return auc, float(np.var(v10, ddof=1)) / m + float(np.var(v01, ddof=1)) / n


def auc_difference(y1: ArrayLike, s1: ArrayLike, y2: ArrayLike, s2: ArrayLike) -> AucDifference:
    """``AUC(y2, s2) - AUC(y1, s1)`` of two independent samples: each AUC's DeLong variance
    (independent samples: no covariance term), the normal interval and p-value."""
    auc1, var1 = auc_variance(y1, s1)
    auc2, var2 = auc_variance(y2, s2)
    result: AucDifference = {
        "n": len(np.asarray(y1).reshape(-1)) + len(np.asarray(y2).reshape(-1)),
        "auc1": auc1, "auc2": auc2, "delta": None, "ci": None, "p_value": None,
        "auc1_ci": None if auc1 is None or var1 is None else _auc_ci(auc1, var1),
        "auc2_ci": None if auc2 is None or var2 is None else _auc_ci(auc2, var2),
        "method": "unpaired, DeLong variances",
    }  # fmt: skip
    if auc1 is None or auc2 is None:
        return result
    result["delta"] = auc2 - auc1
    if var1 is not None and var2 is not None:
        result["ci"], result["p_value"] = _normal(auc2 - auc1, math.sqrt(var1 + var2))
    return result


def logloss_arms(y1: ArrayLike, p1: ArrayLike, y2: ArrayLike, p2: ArrayLike) -> LoglossArms:
    """``logloss(y2, p2) - logloss(y1, p1)`` of two independent samples: Welch's standard
    error of a difference of means of the per-event losses, s1²/n1 + s2²/n2, with the normal
    interval and p-value (at the label counts the rule asks for, t and normal agree)."""
    labels1, x1 = paired(y1, p1)
    labels2, x2 = paired(y2, p2)
    n1, n2 = len(labels1), len(labels2)
    result: LoglossArms = {
        "n": n1 + n2, "logloss1": None, "logloss2": None, "delta": None, "ci": None,
        "p_value": None, "method": "unpaired, Welch normal approximation",
    }  # fmt: skip
    if not n1 or not n2:
        return result
    losses1, losses2 = _event_losses(labels1, x1), _event_losses(labels2, x2)
    delta = float(np.mean(losses2) - np.mean(losses1))
    result |= {
        "logloss1": finite_or_none(log_loss(labels1, x1)),
        "logloss2": finite_or_none(log_loss(labels2, x2)),
        "delta": finite_or_none(delta),
    }
    if n1 > 1 and n2 > 1:
        se = math.sqrt(float(np.var(losses1, ddof=1)) / n1 + float(np.var(losses2, ddof=1)) / n2)
        result["ci"], result["p_value"] = _normal(delta, se)
    return result

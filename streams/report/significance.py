"""Is the shadow better or worse than the primary on the same events, beyond chance?

Same contract as streams/report/stats.py: paired arrays of any length (O(n log n) at most,
vectorised), 0/1 labels, deltas shadow minus primary (the second scores minus the first),
plain JSON-able results with None for what is undefined, 95% intervals, two-sided p-values.
Every difference result carries ``delta``, ``ci``, ``p_value`` and ``method`` (the test's
name, for the report to print). Pure numpy and the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike

from inference.gate import EPS, log_loss
from streams.report.stats import Z95, finite_or_none, paired

EXACT_BELOW = 25  # McNemar: discordant pairs under which the exact binomial test is used


class McNemar(TypedDict):
    b: int
    c: int
    statistic: float
    p_value: float
    method: str


class Difference(TypedDict):
    n: int
    delta: float | None
    ci: list[float] | None
    p_value: float | None
    method: str


class DeLong(Difference):
    positives: int
    negatives: int
    auc1: float | None
    auc2: float | None
    auc1_ci: list[float] | None
    auc2_ci: list[float] | None


class LoglossDifference(Difference):
    logloss1: float | None
    logloss2: float | None


class BootstrapDifference(Difference):
    rows: int  # rows resampled: all of them, or a random max_rows of them
    replicates: int  # resamples where the metric was defined for both models


class LoglossCI(TypedDict):
    n: int
    logloss: float | None
    ci: list[float] | None


def _two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def _normal(delta: float, se: float) -> tuple[list[float] | None, float | None]:
    """95% interval and two-sided p-value of an estimate with standard error ``se``."""
    if not (math.isfinite(delta) and math.isfinite(se)):
        return None, None
    if se <= 0:  # every pair differs by the same value: no doubt left
        return [delta, delta], 1.0 if delta == 0 else 0.0
    return [delta - Z95 * se, delta + Z95 * se], _two_sided_p(delta / se)


def mcnemar(b: int, c: int) -> McNemar:
    """McNemar's test on the discordant pairs of two classifiers on the same events: ``b``
    events only the primary gets right, ``c`` only the shadow. Under 25 pairs the exact
    two-sided binomial test (statistic: min(b, c)); from 25 on, chi-square with continuity
    correction (|b - c| - 1)^2 / (b + c), the correction never taking |b - c| below 0."""
    if b < 0 or c < 0:
        raise ValueError(f"counts must be >= 0, got {b} and {c}")
    n = b + c
    if n < EXACT_BELOW:
        k = min(b, c)
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
        return {
            "b": b,
            "c": c,
            "statistic": float(k),
            "p_value": min(1.0, 2 * tail),
            "method": "exact binomial",
        }
    statistic = max(0, abs(b - c) - 1) ** 2 / n
    return {
        "b": b,
        "c": c,
        "statistic": statistic,
        # chi-square with one degree of freedom is a squared standard normal
        "p_value": math.erfc(math.sqrt(statistic / 2)),
        "method": "chi-square, continuity corrected",
    }


def delong(y: ArrayLike, s1: ArrayLike, s2: ArrayLike) -> DeLong:
    """DeLong's test for the difference of two correlated AUCs (scores ``s1`` and ``s2`` of
    the same rows), by Sun & Xu's (2014) O(n log n) algorithm with mid-ranks, so a tie counts
    one half. auc1/auc2 are inference.gate.auc's figures (to rounding: the mean of the
    structural components); auc1_ci/auc2_ci come from the DeLong variances, clipped to
    [0, 1]. Every figure None without both classes or with a NaN score; intervals and
    p-value None with fewer than 2 of a class."""
    labels, x1, x2 = paired(y, s1, s2)
    positive = labels == 1
    m = int(np.count_nonzero(positive))
    n = len(labels) - m
    result: DeLong = {
        "n": len(labels),
        "positives": m,
        "negatives": n,
        "auc1": None,
        "auc2": None,
        "delta": None,
        "ci": None,
        "p_value": None,
        "auc1_ci": None,
        "auc2_ci": None,
        "method": "DeLong, paired",
    }
    if m == 0 or n == 0 or np.isnan(x1).any() or np.isnan(x2).any():
        return result
    # one model at a time: two threads sorted faster but held twice the temporaries
    components = [_components(positive, x1), _components(positive, x2)]
    v10 = [c[positive] for c in components]
    v01 = [c[~positive] for c in components]
    aucs = [float(np.mean(v)) for v in v10]
    result |= {"auc1": aucs[0], "auc2": aucs[1], "delta": aucs[1] - aucs[0]}
    if m < 2 or n < 2:
        return result
    cov = np.cov(np.vstack(v10)) / m + np.cov(np.vstack(v01)) / n
    se = math.sqrt(max(0.0, float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])))
    result["ci"], result["p_value"] = _normal(aucs[1] - aucs[0], se)
    result["auc1_ci"] = _auc_ci(aucs[0], float(cov[0, 0]))
    result["auc2_ci"] = _auc_ci(aucs[1], float(cov[1, 1]))
    return result


def _components(positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """DeLong's structural components of one model, in row order: for a positive, the share
    of negatives scored below it; for a negative, the share of positives scored above it
    (a tie counts one half). One sort: Sun & Xu's mid-rank differences, per group of ties.
    Both classes must be present."""
    order = np.argsort(scores)
    ordered, positive_sorted = scores[order], positive[order]
    new = np.empty(len(scores), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(scores))
    seen = np.concatenate(([0], np.cumsum(positive_sorted, dtype=np.int64)))
    pos_before, pos_in = seen[starts], seen[ends] - seen[starts]
    neg_before, neg_in = starts - pos_before, (ends - starts) - pos_in
    m, n = int(seen[-1]), len(scores) - int(seen[-1])
    group = np.cumsum(new) - 1
    share = np.where(
        positive_sorted,
        ((neg_before + 0.5 * neg_in) / n)[group],
        (1.0 - (pos_before + 0.5 * pos_in) / m)[group],
    )
    components = np.empty(len(scores))
    components[order] = share
    return components


def _auc_ci(auc: float, variance: float) -> list[float]:
    half = Z95 * math.sqrt(max(0.0, variance))
    return [max(0.0, auc - half), min(1.0, auc + half)]


def _event_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    # the per-event terms whose mean is inference.gate.log_loss, clipped the same way
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def logloss_ci(y: ArrayLike, p: ArrayLike) -> LoglossCI:
    """One model's log loss (inference.gate.log_loss) with a normal-approximation 95%
    interval from its per-event losses; None figures for no rows, ci None for one row."""
    labels, scores = paired(y, p)
    if len(labels) == 0:
        return {"n": 0, "logloss": None, "ci": None}
    loss = finite_or_none(log_loss(labels, scores))
    ci = None
    if loss is not None and len(labels) > 1:
        se = float(np.std(_event_losses(labels, scores), ddof=1)) / math.sqrt(len(labels))
        ci = _normal(loss, se)[0]
    return {"n": len(labels), "logloss": loss, "ci": ci}


def logloss_difference(y: ArrayLike, p1: ArrayLike, p2: ArrayLike) -> LoglossDifference:
    """Paired log-loss difference: the mean over events of the shadow's loss minus the
    primary's (negative: the shadow is better), its interval and two-sided p-value by the
    normal approximation. delta equals logloss2 - logloss1 up to rounding."""
    labels, x1, x2 = paired(y, p1, p2)
    n = len(labels)
    result: LoglossDifference = {
        "n": n,
        "logloss1": None,
        "logloss2": None,
        "delta": None,
        "ci": None,
        "p_value": None,
        "method": "paired, normal approximation",
    }
    if n == 0:
        return result
    differences = _event_losses(labels, x2) - _event_losses(labels, x1)
    delta = float(np.mean(differences))
    result |= {
        "logloss1": finite_or_none(log_loss(labels, x1)),
        "logloss2": finite_or_none(log_loss(labels, x2)),
        "delta": finite_or_none(delta),
    }
    if n > 1:
        se = float(np.std(differences, ddof=1)) / math.sqrt(n)
        result["ci"], result["p_value"] = _normal(delta, se)
    return result


def bootstrap_difference(
    y: ArrayLike,
    p1: ArrayLike,
    p2: ArrayLike,
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_boot: int = 200,
    seed: int = 0,
    max_rows: int = 200_000,
) -> BootstrapDifference:
    """Paired bootstrap of ``metric(y, p2) - metric(y, p1)`` (any metric(labels, scores),
    e.g. inference.gate.calibration_error): delta on all rows; ci the 2.5th and 97.5th
    percentiles over ``n_boot`` resamples of rows with replacement; the same result for the
    same seed. Above ``max_rows`` rows the resamples are drawn from a fixed random
    ``max_rows`` of them, so the interval is that of a max_rows-row sample: wider than all
    rows' would be (conservative). Resamples where a metric is undefined are dropped."""
    labels, x1, x2 = paired(y, p1, p2)
    n = len(labels)
    result: BootstrapDifference = {
        "n": n,
        "delta": None,
        "ci": None,
        "p_value": None,
        "method": "paired bootstrap",
        "rows": min(n, max_rows),
        "replicates": 0,
    }
    if n == 0:
        return result
    result["delta"] = finite_or_none(metric(labels, x2) - metric(labels, x1))
    rng = np.random.default_rng(seed)
    if n > max_rows:
        keep = np.sort(rng.choice(n, size=max_rows, replace=False))
        labels, x1, x2 = labels[keep], x1[keep], x2[keep]
    rows = len(labels)
    replicates = np.empty(n_boot)
    for i in range(n_boot):  # a loop per resample, never per row
        index = rng.integers(0, rows, rows)
        resampled = labels[index]
        replicates[i] = metric(resampled, x2[index]) - metric(resampled, x1[index])
    replicates = replicates[np.isfinite(replicates)]
    result["replicates"] = len(replicates)
    if len(replicates):
        lo, hi = np.percentile(replicates, [2.5, 97.5])
        result["ci"] = [float(lo), float(hi)]
    return result

"""Descriptive statistics of the shadow-mode report: the primary and a shadow scored on the
same events, so every figure is paired and every delta is shadow minus primary (the second
array minus the first).

Contract. Inputs are numpy arrays (or array-likes) of any length, ten million rows included;
every function is vectorised and O(n log n) at most, with no Python loop per row. Results are
plain Python ints, floats, lists and dicts, JSON-able as they are (``allow_nan=False``): a
figure that is undefined (no positives, a constant input, too few rows, a non-finite input)
is ``None``, never NaN. Labels are 0/1 (anything else is a ValueError); intervals are 95%,
two-sided. The gate's metrics (log loss, AUC, calibration error) are imported from
inference.gate; the per-row pieces the gate does not expose (per-event losses, calibration
bins) use its formulas and clipping, and the tests hold them to the gate's figures.

Tests of a difference between the two models (McNemar, DeLong, log loss, bootstrap) are in
streams/report/significance.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np
from numpy.typing import ArrayLike

from inference.gate import N_CALIBRATION_BINS

Z95 = 1.959963984540054  # standard normal 97.5th percentile: two-sided 95% intervals
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class CalibrationBin(TypedDict):
    lo: float
    hi: float
    n: int
    mean_score: float | None
    positive_rate: float | None


class Histogram(TypedDict):
    edges: list[float]
    counts: list[int]
    under: int  # values below the first edge
    over: int  # values above the last edge (the last bin holds its upper edge)


def finite_or_none(x: Any) -> float | None:
    """``x`` as a plain float, or None when it is NaN or infinite."""
    x = float(x)
    return x if math.isfinite(x) else None


def as_floats(x: ArrayLike) -> np.ndarray:
    """A flat float64 array (no copy when ``x`` already is one)."""
    return np.asarray(x, dtype=np.float64).reshape(-1)


def paired(y: ArrayLike, *scores: ArrayLike) -> tuple[np.ndarray, ...]:
    """0/1 labels and the scores of the same rows as float64 arrays; ValueError when the
    lengths differ or a label is not 0 or 1."""
    arrays = (as_floats(y), *(as_floats(s) for s in scores))
    if any(len(a) != len(arrays[0]) for a in arrays):
        raise ValueError(f"need one score per label: lengths {[len(a) for a in arrays]}")
    if not np.all((arrays[0] == 0) | (arrays[0] == 1)):
        raise ValueError("labels must be 0 or 1")
    return arrays


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson score interval of the proportion ``successes / n``; None when n is 0."""
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return None
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


BLOCK = 1 << 20  # rows per pass where a whole-array temporary would cost too much memory


def _moments(v: np.ndarray) -> tuple[float, float, float]:
    """Mean, sample standard deviation and mean absolute value, a block at a time: ten million
    rows never make a ten-million-row temporary."""
    n = len(v)
    mean = float(np.sum(v, dtype=np.float64)) / n
    squares = absolute = 0.0
    for at in range(0, n, BLOCK):
        block = v[at : at + BLOCK]
        squares += float(np.sum(np.square(block - mean)))
        absolute += float(np.sum(np.abs(block)))
    std = math.sqrt(squares / (n - 1)) if n > 1 else float("nan")
    return mean, std, absolute / n


def _mean_interval(mean: float, std: float, n: int) -> tuple[float, float] | None:
    half = Z95 * std / math.sqrt(n)
    lo, hi = finite_or_none(mean - half), finite_or_none(mean + half)
    return None if lo is None or hi is None else (lo, hi)


def mean_ci(values: ArrayLike) -> tuple[float, float] | None:
    """Normal-approximation 95% interval of the mean; None for fewer than 2 values."""
    v = as_floats(values)
    if len(v) < 2:
        return None
    mean, std, _ = _moments(v)
    return _mean_interval(mean, std, len(v))


def quantile_key(q: float) -> str:
    """0.01 -> "p01", 0.5 -> "p50", 0.999 -> "p99.9"."""
    return f"p{q * 100:02g}"


def quantiles(
    values: ArrayLike, qs: Sequence[float] = QUANTILES, overwrite: bool = False
) -> dict[str, float | None]:
    """Quantiles (linear interpolation, as numpy's default) keyed "p01", "p50", ...; every
    value None for an empty input. With ``overwrite``, ``values`` is partitioned in place
    (its order is lost) instead of copied."""
    v = as_floats(values)
    if len(v) == 0:
        return {quantile_key(q): None for q in qs}
    found = np.quantile(v, list(qs), overwrite_input=overwrite)
    return {quantile_key(q): finite_or_none(x) for q, x in zip(qs, found, strict=True)}


def delta_summary(delta: ArrayLike, overwrite: bool = False) -> dict[str, Any]:
    """n, mean, mean_ci (list), std (ddof=1), mean_abs, min, p01 ... p99, max of per-event
    deltas; every figure None for an empty input. With ``overwrite`` the quantiles partition
    ``delta`` in place (its order is lost) instead of copying it."""
    d = as_floats(delta)
    keys = ["mean", "mean_ci", "std", "mean_abs", "min", *map(quantile_key, QUANTILES), "max"]
    summary: dict[str, Any] = {"n": len(d)} | dict.fromkeys(keys)
    if len(d) == 0:
        return summary
    mean, std, mean_abs = _moments(d)
    ci = _mean_interval(mean, std, len(d)) if len(d) > 1 else None
    # min and max from the same partition pass as the quantiles
    q = quantiles(d, (0.0, *QUANTILES, 1.0), overwrite)
    summary |= {
        "mean": finite_or_none(mean),
        "mean_ci": None if ci is None else list(ci),
        "std": finite_or_none(std) if len(d) > 1 else None,
        "mean_abs": finite_or_none(mean_abs),
        "min": q.pop("p00"),
        "max": q.pop("p100"),
    }
    return summary | q


def midranks(x: ArrayLike) -> np.ndarray:
    """1-based ranks of ``x``; tied values share their mean rank (scipy's rankdata)."""
    x = as_floats(x)
    order = np.argsort(x)
    ordered = x[order]
    new = np.empty(len(x), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(x)))
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(starts + (counts + 1) / 2.0, counts)
    return ranks


def _correlatable(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray] | None:
    x, y = as_floats(a), as_floats(b)
    if len(x) != len(y):
        raise ValueError(f"need pairs: lengths {len(x)} and {len(y)}")
    if len(x) < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return None
    # exact test: a constant's computed mean may differ from it by rounding
    if x.min() == x.max() or y.min() == y.max():
        return None
    return x, y


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    r = float(np.dot(x, y) / math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y))))
    return max(-1.0, min(1.0, r))


def pearson(a: ArrayLike, b: ArrayLike) -> float | None:
    """Pearson correlation; None when either side is constant, non-finite or n < 2."""
    pair = _correlatable(a, b)
    return None if pair is None else _correlation(*pair)


def spearman(a: ArrayLike, b: ArrayLike) -> float | None:
    """Spearman rank correlation (mean ranks for ties); None as for :func:`pearson`."""
    pair = _correlatable(a, b)
    if pair is None:
        return None
    # one model's ranks at a time: sorting both at once (two threads) was faster but held
    # twice the temporaries, and the report's memory bound is the tighter one
    return _correlation(midranks(pair[0]), midranks(pair[1]))


def calibration_bins(
    y: ArrayLike, p: ArrayLike, bins: int = N_CALIBRATION_BINS
) -> list[CalibrationBin]:
    """Rows per equal-width bin of ``p`` on [0, 1], binned as
    inference.gate.calibration_error (1.0 in the last bin), so the share-weighted mean of
    |mean_score - positive_rate| over these bins is that ECE. Rows with a non-finite score
    are left out; an empty bin's figures are None."""
    labels, scores = paired(y, p)
    keep = np.isfinite(scores)
    labels, scores = labels[keep], scores[keep]
    index = np.clip((np.clip(scores, 0.0, 1.0) * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    score_sums = np.bincount(index, weights=scores, minlength=bins)
    label_sums = np.bincount(index, weights=labels, minlength=bins)
    return [
        {
            "lo": i / bins,
            "hi": (i + 1) / bins,
            "n": int(counts[i]),
            "mean_score": float(score_sums[i] / counts[i]) if counts[i] else None,
            "positive_rate": float(label_sums[i] / counts[i]) if counts[i] else None,
        }
        for i in range(bins)
    ]


def precision_recall_at(
    y: ArrayLike, p: ArrayLike, threshold: float
) -> tuple[float | None, float | None]:
    """Precision and recall when rows with ``p >= threshold`` are flagged; precision is None
    when nothing is flagged, recall None when there are no positives."""
    labels, scores = paired(y, p)
    flagged, positive = scores >= threshold, labels == 1
    hits = int(np.count_nonzero(flagged & positive))
    n_flagged, n_positive = int(np.count_nonzero(flagged)), int(np.count_nonzero(positive))
    return (
        hits / n_flagged if n_flagged else None,
        hits / n_positive if n_positive else None,
    )


def log_edges(lo: float, hi: float, n: int) -> list[float]:
    """``n + 1`` geometrically spaced edges from ``lo`` to ``hi``: ``n`` bins of equal
    relative width, for latencies (``0 < lo < hi``)."""
    if not 0 < lo < hi or n < 1:
        raise ValueError(f"need 0 < lo < hi and n >= 1, got {lo}, {hi}, {n}")
    return [float(e) for e in np.geomspace(lo, hi, n + 1)]


def histogram(values: ArrayLike, edges: ArrayLike) -> Histogram:
    """Counts per bin [edges[i], edges[i+1]) (the last bin closed), with the values below
    the first edge and above the last counted apart; NaN is not counted."""
    v, e = as_floats(values), as_floats(edges)
    if len(e) < 2 or not np.all(np.diff(e) > 0) or not np.all(np.isfinite(e)):
        raise ValueError("need at least two finite, strictly increasing edges")
    counts, _ = np.histogram(v, bins=e)
    return {
        "edges": [float(x) for x in e],
        "counts": [int(c) for c in counts],
        "under": int(np.count_nonzero(v < e[0])),
        "over": int(np.count_nonzero(v > e[-1])),
    }


def percentiles_from_histogram(
    edges: Sequence[float],
    counts: Sequence[int],
    qs: Sequence[float] = QUANTILES,
    under: int = 0,
    over: int = 0,
) -> dict[str, float | None]:
    """Quantiles of values that were only counted into bins (latencies accumulated while
    streaming), keyed as :func:`quantiles`. Each is the UPPER edge of the bin holding the
    value of rank ceil(q * total), so it is an upper bound, off by at most one bin width:
    ``edges[0]`` when that value is below the first edge (``under``), None when it is above
    the last (``over``), every value None when nothing was counted."""
    e, c = as_floats(edges), np.asarray(counts, dtype=np.int64).reshape(-1)
    if len(c) != len(e) - 1:
        raise ValueError(f"need one count per bin: {len(c)} counts, {len(e)} edges")
    cumulative = under + np.cumsum(c)
    total = int(cumulative[-1]) + over if len(c) else under + over
    found: dict[str, float | None] = {}
    for q in qs:
        # round first: 0.07 * 100 is 7.000000000000001, whose ceiling is not rank 7
        rank = max(1, math.ceil(round(q * total, 9)))
        key = quantile_key(q)
        if total == 0 or rank > total - over:
            found[key] = None
        elif rank <= under:
            found[key] = float(e[0])
        else:
            found[key] = float(e[int(np.searchsorted(cumulative, rank)) + 1])
    return found

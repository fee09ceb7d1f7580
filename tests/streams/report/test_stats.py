"""The report's descriptive statistics against scipy, scikit-learn and hand-computed values."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_score, recall_score

from inference.gate import calibration_error
from streams.report.stats import (
    QUANTILES,
    calibration_bins,
    delta_summary,
    histogram,
    log_edges,
    mean_ci,
    midranks,
    pearson,
    percentiles_from_histogram,
    precision_recall_at,
    quantiles,
    spearman,
    wilson,
)


def _scored(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return (rng.random(n) < p).astype(np.int64), p


def test_wilson_by_hand() -> None:
    # 8 of 10, z² = 3.841459: centre (0.8 + z²/20) / (1 + z²/10) = 0.716740, half-width
    # z / (1 + z²/10) x sqrt(0.8 x 0.2 / 10 + z²/400) = 1.416010 x 0.160012 = 0.226578.
    assert wilson(8, 10) == pytest.approx((0.490162, 0.943318), abs=1e-6)
    # z = 1: centre 0.85 / 1.1, half-width sqrt(0.016 + 0.0025) / 1.1
    assert wilson(8, 10, z=1.0) == pytest.approx((0.649078, 0.896377), abs=1e-6)


def test_wilson_at_the_bounds_and_with_nothing_counted() -> None:
    assert wilson(0, 0) is None
    # no successes: [0, z² / (n + z²)]; all successes: [n / (n + z²), 1]
    z2 = 1.959964**2
    assert wilson(0, 20) == pytest.approx((0.0, z2 / (20 + z2)), abs=1e-12)
    assert wilson(20, 20) == pytest.approx((20 / (20 + z2), 1.0), abs=1e-12)
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_mean_ci_is_the_normal_interval() -> None:
    v = np.random.default_rng(1).normal(3.0, 2.0, 500)
    half = sps.norm.ppf(0.975) * sps.sem(v)
    assert mean_ci(v) == pytest.approx((v.mean() - half, v.mean() + half), rel=1e-12)
    assert mean_ci(np.array([1.0])) is None
    assert mean_ci(np.array([])) is None
    assert mean_ci(np.array([1.0, np.nan])) is None


def test_quantiles_match_numpy_and_are_keyed_by_percent() -> None:
    v = np.random.default_rng(2).normal(size=1001)
    found = quantiles(v)
    assert list(found) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    assert list(found.values()) == pytest.approx(np.quantile(v, QUANTILES), rel=1e-12)
    assert list(quantiles(v, (0.07, 0.999))) == ["p07", "p99.9"]
    assert quantiles(np.array([]), (0.5,)) == {"p50": None}


def test_delta_summary() -> None:
    d = np.random.default_rng(3).normal(0.01, 0.1, 2000)
    s = delta_summary(d)
    assert list(s) == [
        "n", "mean", "mean_ci", "std", "mean_abs", "min",
        "p01", "p05", "p25", "p50", "p75", "p95", "p99", "max",
    ]  # fmt: skip
    assert s["n"] == 2000
    assert s["mean"] == pytest.approx(d.mean())
    assert s["mean_ci"] == pytest.approx(list(mean_ci(d)))  # type: ignore[arg-type]
    assert s["std"] == pytest.approx(d.std(ddof=1))
    assert s["mean_abs"] == pytest.approx(np.abs(d).mean())
    assert (s["min"], s["max"]) == (d.min(), d.max())
    assert s["p95"] == pytest.approx(np.quantile(d, 0.95))


def test_delta_summary_of_nothing_and_of_one_value() -> None:
    empty = delta_summary(np.array([]))
    assert empty["n"] == 0
    assert all(v is None for k, v in empty.items() if k != "n")
    one = delta_summary(np.array([0.5]))
    assert (one["mean"], one["min"], one["p50"], one["max"]) == (0.5, 0.5, 0.5, 0.5)
    assert one["std"] is None and one["mean_ci"] is None


def test_midranks_are_scipys_average_ranks() -> None:
    x = np.random.default_rng(4).integers(0, 30, 1000).astype(float)
    assert np.array_equal(midranks(x), sps.rankdata(x, method="average"))


def test_correlations_match_scipy_with_ties() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(0, 50, 5000).astype(float)  # many ties
    b = a + rng.normal(0, 20, 5000).round()
    assert spearman(a, b) == pytest.approx(sps.spearmanr(a, b).statistic, rel=1e-10)
    assert pearson(a, b) == pytest.approx(sps.pearsonr(a, b).statistic, rel=1e-10)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)


def test_spearman_on_a_million_rows_matches_scipy() -> None:
    rng = np.random.default_rng(6)
    a = rng.random(1_000_000)
    b = np.round(a + rng.normal(0, 0.3, len(a)), 2)
    assert spearman(a, b) == pytest.approx(sps.spearmanr(a, b).statistic, rel=1e-9)


@pytest.mark.parametrize("correlation", [spearman, pearson])
def test_correlations_are_undefined_for_constant_short_or_nan_input(
    correlation: Callable[[np.ndarray, np.ndarray], float | None],
) -> None:
    a = np.array([0.1, 0.2, 0.3])
    assert correlation(a, np.full(3, 0.7)) is None
    assert correlation(np.full(3, 0.1 + 0.2), a) is None
    assert correlation(np.array([1.0]), np.array([2.0])) is None
    assert correlation(a, np.array([0.1, np.nan, 0.2])) is None
    with pytest.raises(ValueError):
        correlation(a, a[:2])


def test_calibration_bins_match_sklearn_and_give_the_gates_ece() -> None:
    y, p = _scored(20_000, 7)
    p = p**2  # skewed: some bins busy, some sparse
    bins = calibration_bins(y, p)
    assert [(b["lo"], b["hi"]) for b in bins] == [(i / 10, (i + 1) / 10) for i in range(10)]
    counts = np.array([b["n"] for b in bins])
    assert np.array_equal(counts, np.histogram(p, bins=np.linspace(0, 1, 11))[0])
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    busy = [b for b in bins if b["n"]]
    assert [b["positive_rate"] for b in busy] == pytest.approx(prob_true, rel=1e-12)
    assert [b["mean_score"] for b in busy] == pytest.approx(prob_pred, rel=1e-12)
    sklearn_ece = np.sum(np.abs(prob_true - prob_pred) * counts[counts > 0]) / len(y)
    ours = sum(b["n"] * abs(b["mean_score"] - b["positive_rate"]) for b in busy) / len(y)  # type: ignore[operator]
    assert ours == pytest.approx(calibration_error(y, p), rel=1e-9)
    assert sklearn_ece == pytest.approx(calibration_error(y, p), rel=1e-9)


def test_calibration_bins_edges_empties_and_non_finite_scores() -> None:
    bins = calibration_bins(np.array([1, 0, 1, 0]), np.array([1.0, 0.0, 0.25, np.nan]))
    assert [b["n"] for b in bins] == [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert bins[9]["mean_score"] == 1.0 and bins[9]["positive_rate"] == 1.0
    assert bins[1]["mean_score"] is None and bins[1]["positive_rate"] is None
    with pytest.raises(ValueError):
        calibration_bins(np.array([2, 0]), np.array([0.1, 0.2]))


def test_precision_recall_match_sklearn() -> None:
    y, p = _scored(5000, 8)
    for threshold in (0.2, 0.5, 0.9):
        flagged = (p >= threshold).astype(int)
        assert precision_recall_at(y, p, threshold) == pytest.approx(
            (precision_score(y, flagged), recall_score(y, flagged))
        )
    assert precision_recall_at(np.array([1, 0]), np.array([0.5, 0.7]), 0.6) == (0.0, 0.0)
    assert precision_recall_at(np.array([1, 0]), np.array([0.5, 0.7]), 0.5) == (0.5, 1.0)


def test_precision_recall_are_undefined_when_nothing_is_flagged_or_positive() -> None:
    assert precision_recall_at(np.array([1, 0]), np.array([0.1, 0.2]), 0.5) == (None, 0.0)
    assert precision_recall_at(np.array([0, 0]), np.array([0.6, 0.2]), 0.5) == (0.0, None)


def test_log_edges() -> None:
    edges = log_edges(0.1, 1000.0, 4)
    assert edges == pytest.approx([0.1, 1.0, 10.0, 100.0, 1000.0])
    for bad in ((0.0, 1.0, 3), (2.0, 1.0, 3), (1.0, 2.0, 0)):
        with pytest.raises(ValueError):
            log_edges(*bad)


def test_histogram_matches_numpy_and_counts_what_falls_outside() -> None:
    v = np.random.default_rng(9).lognormal(1.0, 1.5, 10_000)
    edges = log_edges(0.5, 100.0, 20)
    h = histogram(np.append(v, [np.nan, np.inf]), edges)
    assert h["edges"] == edges
    assert h["counts"] == np.histogram(v, bins=edges)[0].tolist()
    assert h["under"] == int(np.sum(v < 0.5))
    assert h["over"] == int(np.sum(v > 100.0)) + 1  # the infinity
    assert sum(h["counts"]) + h["under"] + h["over"] == len(v) + 1  # NaN nowhere
    with pytest.raises(ValueError):
        histogram(v, [1.0, 1.0, 2.0])


def test_percentiles_from_histogram_by_hand() -> None:
    edges, counts = [0.0, 1.0, 2.0, 4.0], [5, 3, 2]
    assert percentiles_from_histogram(edges, counts, (0.5, 0.51, 0.8, 0.81, 1.0)) == {
        "p50": 1.0,
        "p51": 2.0,
        "p80": 2.0,
        "p81": 4.0,
        "p100": 4.0,
    }
    # rank ceil(0.07 x 100) = 7 is in the second bin, not rank 8
    assert percentiles_from_histogram([0.0, 1.0, 2.0, 3.0], [6, 1, 93], (0.07,)) == {"p07": 2.0}
    assert percentiles_from_histogram(edges, counts, (0.1, 0.9), under=2, over=2) == {
        "p10": 0.0,  # rank 2 is below the first edge
        "p90": None,  # rank 13 of 14 is above the last edge
    }
    assert percentiles_from_histogram(edges, [0, 0, 0], (0.5,)) == {"p50": None}


def test_percentiles_from_histogram_bound_the_true_quantile_within_one_bin() -> None:
    v = np.random.default_rng(10).lognormal(2.0, 1.0, 50_000)
    h = histogram(v, log_edges(0.01, 1e4, 200))
    found = percentiles_from_histogram(h["edges"], h["counts"], under=h["under"], over=h["over"])
    for q, upper in zip(QUANTILES, found.values(), strict=True):
        true = np.quantile(v, q, method="inverted_cdf")
        assert upper is not None
        i = h["edges"].index(upper)
        assert h["edges"][i - 1] <= true <= upper


def test_every_result_is_json() -> None:
    y, p = _scored(100, 11)
    results = [
        wilson(3, 7), wilson(0, 0), mean_ci(p), mean_ci(p[:1]), quantiles(p),
        quantiles(p[:0]), delta_summary(p), delta_summary(p[:0]), delta_summary(p[:1]),
        delta_summary(np.array([np.nan, 1.0])), spearman(y, p), pearson(y, p),
        spearman(p, np.ones(100)), calibration_bins(y, p), calibration_bins(y[:0], p[:0]),
        precision_recall_at(y, p, 0.5), precision_recall_at(y[:0], p[:0], 0.5),
        histogram(p, log_edges(0.01, 1.0, 5)), histogram(p[:0], [0.0, 1.0]),
        percentiles_from_histogram([0.0, 1.0], [0], (0.5,)), log_edges(1, 10, 3),
    ]  # fmt: skip
    assert json.loads(json.dumps(results, allow_nan=False)) is not None
    assert math.isfinite(sum(b["n"] for b in calibration_bins(y, p)))

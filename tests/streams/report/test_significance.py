"""The report's paired tests against scipy, scikit-learn and DeLong by its definition."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import log_loss as sklearn_log_loss
from sklearn.metrics import roc_auc_score

from inference.gate import auc, calibration_error, log_loss
from streams.report.significance import (
    bootstrap_difference,
    delong,
    logloss_ci,
    logloss_difference,
    mcnemar,
)


def _two_models(n: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, ...]:
    """Labels, a primary and a shadow that sees the signal through less noise."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * signal))).astype(np.int64)
    primary = 1 / (1 + np.exp(-(signal + rng.normal(0, noise, n))))
    shadow = 1 / (1 + np.exp(-(signal + rng.normal(0, noise / 2, n))))
    return y, primary, shadow


def _brute_delong(y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[float, ...]:
    """DeLong (1988) by its definition, O(n²): AUCs, variance of the difference, p-value."""
    positives, negatives = y == 1, y == 0
    m, n = positives.sum(), negatives.sum()
    v10, v01 = [], []
    for s in (s1, s2):
        x, z = s[positives][:, None], s[negatives][None, :]
        psi = (x > z) + 0.5 * (x == z)
        v10.append(psi.mean(axis=1))  # per positive: share of negatives it beats
        v01.append(psi.mean(axis=0))  # per negative: share of positives beating it
    aucs = [float(v.mean()) for v in v10]

    def covariance(v: list[np.ndarray], k: int, j: int) -> float:
        return float(np.sum((v[k] - aucs[k]) * (v[j] - aucs[j])) / (len(v[k]) - 1))

    cov = [[covariance(v10, k, j) / m + covariance(v01, k, j) / n for j in (0, 1)] for k in (0, 1)]
    var = cov[0][0] + cov[1][1] - 2 * cov[0][1]
    p = 2 * sps.norm.sf(abs(aucs[1] - aucs[0]) / math.sqrt(var))
    return aucs[0], aucs[1], var, p, cov[0][0], cov[1][1]


@pytest.mark.parametrize("b, c", [(b, c) for b in range(25) for c in range(25) if b + c < 25])
def test_mcnemar_is_the_exact_binomial_test_under_25_pairs(b: int, c: int) -> None:
    result = mcnemar(b, c)
    assert result["method"] == "exact binomial"
    expected = sps.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)
    assert (result["b"], result["c"], result["statistic"]) == (b, c, min(b, c))


@pytest.mark.parametrize("b, c", [(13, 12), (12, 13), (20, 5), (100, 130), (500, 500), (3, 40)])
def test_mcnemar_is_chi_square_with_continuity_correction_from_25_pairs(b: int, c: int) -> None:
    result = mcnemar(b, c)
    statistic = max(0, abs(b - c) - 1) ** 2 / (b + c)
    assert result["method"] == "chi-square, continuity corrected"
    assert result["statistic"] == pytest.approx(statistic)
    assert result["p_value"] == pytest.approx(sps.chi2.sf(statistic, 1), rel=1e-9)


def test_mcnemar_by_hand() -> None:
    assert mcnemar(0, 0)["p_value"] == 1.0
    assert mcnemar(0, 5)["p_value"] == pytest.approx(2 / 32)
    # (|40 - 20| - 1)² / 60 = 6.0167 -> p = 0.014171
    assert mcnemar(40, 20)["p_value"] == pytest.approx(0.014171, abs=1e-6)
    with pytest.raises(ValueError):
        mcnemar(-1, 3)


@pytest.mark.parametrize("seed", range(6))
def test_delong_matches_its_definition_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    y = (rng.random(n) < rng.uniform(0.1, 0.6)).astype(np.int64)
    y[:2], y[2:4] = 1, 0  # both classes, at least two of each
    s1 = np.round(rng.random(n) + 0.3 * y, 1)  # rounded: many ties, across classes too
    s2 = np.round(rng.random(n) + 0.6 * y, 1)
    auc1, auc2, var, p, var1, var2 = _brute_delong(y, s1, s2)
    result = delong(y, s1, s2)
    assert result["auc1"] == pytest.approx(auc1, rel=1e-12)
    assert result["auc2"] == pytest.approx(auc2, rel=1e-12)
    assert result["delta"] == pytest.approx(auc2 - auc1, abs=1e-12)
    half = 1.959963984540054 * math.sqrt(var)
    assert result["ci"] == pytest.approx([auc2 - auc1 - half, auc2 - auc1 + half], rel=1e-9)
    assert result["p_value"] == pytest.approx(p, rel=1e-9)
    for key, a, v in (("auc1_ci", auc1, var1), ("auc2_ci", auc2, var2)):
        half = 1.959963984540054 * math.sqrt(v)
        assert result[key] == pytest.approx([max(0, a - half), min(1, a + half)], rel=1e-9)  # type: ignore[literal-required]
    assert (result["positives"], result["negatives"]) == (y.sum(), n - y.sum())


def test_delong_aucs_are_the_gates_and_sklearns() -> None:
    y, primary, shadow = _two_models(20_000, 1)
    result = delong(y, primary, shadow)
    assert result["auc1"] == pytest.approx(auc(y, primary), rel=1e-12)
    assert result["auc2"] == pytest.approx(auc(y, shadow), rel=1e-12)
    assert result["auc2"] == pytest.approx(roc_auc_score(y, shadow), rel=1e-12)
    assert result["delta"] > 0 and result["p_value"] < 1e-6  # type: ignore[operator]
    assert result["ci"][0] > 0  # type: ignore[index]


def test_delong_of_a_model_against_itself_finds_no_difference() -> None:
    y, primary, _ = _two_models(1000, 2)
    result = delong(y, primary, primary)
    assert (result["delta"], result["ci"], result["p_value"]) == (0.0, [0.0, 0.0], 1.0)


def test_delong_without_both_classes_or_with_one_positive() -> None:
    s = np.array([0.1, 0.4, 0.7])
    for y in (np.zeros(3), np.ones(3)):
        result = delong(y, s, s[::-1])
        assert all(result[k] is None for k in ("auc1", "auc2", "delta", "ci", "p_value"))
    nan = delong(np.array([0, 1, 1]), s, np.array([0.1, np.nan, 0.3]))
    assert nan["auc1"] is None and nan["auc2"] is None and nan["n"] == 3
    one = delong(np.array([0, 0, 1]), s, s[::-1])
    assert (one["auc1"], one["auc2"], one["delta"]) == (1.0, 0.0, -1.0)
    assert one["ci"] is None and one["p_value"] is None and one["auc1_ci"] is None


def test_logloss_difference_is_paired_and_normal() -> None:
    y, primary, shadow = _two_models(5000, 3)
    result = logloss_difference(y, primary, shadow)
    assert result["logloss1"] == pytest.approx(sklearn_log_loss(y, primary), rel=1e-12)
    assert result["logloss2"] == pytest.approx(sklearn_log_loss(y, shadow), rel=1e-12)
    assert result["delta"] == pytest.approx(log_loss(y, shadow) - log_loss(y, primary))

    def losses(p: np.ndarray) -> np.ndarray:
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))

    d = losses(shadow) - losses(primary)
    sem = sps.sem(d)
    assert result["ci"] == pytest.approx(
        list(sps.norm.interval(0.95, loc=d.mean(), scale=sem)), rel=1e-9
    )
    assert result["p_value"] == pytest.approx(2 * sps.norm.sf(abs(d.mean()) / sem), rel=1e-9)
    assert result["delta"] < 0 and result["p_value"] < 1e-6  # type: ignore[operator]
    assert result["method"] == "paired, normal approximation"


def test_logloss_difference_degenerate_cases() -> None:
    y, primary, _ = _two_models(100, 4)
    same = logloss_difference(y, primary, primary)
    assert (same["delta"], same["ci"], same["p_value"]) == (0.0, [0.0, 0.0], 1.0)
    empty = logloss_difference(y[:0], primary[:0], primary[:0])
    assert (empty["n"], empty["delta"], empty["ci"], empty["logloss1"]) == (0, None, None, None)
    one = logloss_difference(y[:1], primary[:1], primary[:1] / 2)
    assert one["delta"] is not None and one["ci"] is None and one["p_value"] is None
    # a sure miss (row 0) is clipped as the gate clips it: -log(1e-7), not infinite
    sure = logloss_difference(np.array([0, 1]), np.array([0.5, 0.5]), np.array([1.0, 1.0]))
    assert sure["delta"] == pytest.approx((-math.log(1e-7) + 2 * math.log(0.5)) / 2, rel=1e-6)


def test_logloss_ci() -> None:
    y, primary, _ = _two_models(3000, 5)
    result = logloss_ci(y, primary)
    assert result["logloss"] == log_loss(y, primary)
    losses = -(y * np.log(primary) + (1 - y) * np.log(1 - primary))
    assert result["ci"] == pytest.approx(
        list(sps.norm.interval(0.95, loc=losses.mean(), scale=sps.sem(losses))), rel=1e-9
    )
    assert logloss_ci(y[:0], primary[:0]) == {"n": 0, "logloss": None, "ci": None}
    assert logloss_ci(y[:1], primary[:1])["ci"] is None


def test_bootstrap_is_deterministic_for_a_seed_and_covers_a_large_effect() -> None:
    y, primary, shadow = _two_models(4000, 6)
    result = bootstrap_difference(y, primary, shadow, auc, n_boot=100, seed=3)
    assert result == bootstrap_difference(y, primary, shadow, auc, n_boot=100, seed=3)
    assert result["ci"] != bootstrap_difference(y, primary, shadow, auc, n_boot=100, seed=4)["ci"]
    assert result["delta"] == auc(y, shadow) - auc(y, primary)
    assert result["ci"] is not None and result["delta"] is not None
    lo, hi = result["ci"]
    assert 0 < lo < result["delta"] < hi
    assert (result["rows"], result["replicates"], result["p_value"]) == (4000, 100, None)
    assert result["method"] == "paired bootstrap"


def test_bootstrap_subsamples_above_max_rows() -> None:
    y, primary, shadow = _two_models(6000, 7)
    result = bootstrap_difference(y, primary, shadow, log_loss, n_boot=50, seed=1, max_rows=1000)
    assert result == bootstrap_difference(
        y, primary, shadow, log_loss, n_boot=50, seed=1, max_rows=1000
    )
    assert (result["n"], result["rows"]) == (6000, 1000)
    assert result["delta"] == pytest.approx(log_loss(y, shadow) - log_loss(y, primary))
    full = bootstrap_difference(y, primary, shadow, log_loss, n_boot=50, seed=1)
    assert result["ci"] is not None and full["ci"] is not None
    # the interval of 1000 rows is wider than that of all 6000
    assert result["ci"][1] - result["ci"][0] > full["ci"][1] - full["ci"][0]


def test_bootstrap_drops_resamples_where_the_metric_is_undefined() -> None:
    y = np.zeros(50, dtype=np.int64)
    y[0] = 1  # one positive: most resamples lose it and AUC is undefined there
    p = np.linspace(0, 1, 50)
    result = bootstrap_difference(y, p, p[::-1], auc, n_boot=100, seed=0)
    assert result["delta"] == auc(y, p[::-1]) - auc(y, p)
    assert 0 < result["replicates"] < 100
    nothing = bootstrap_difference(np.zeros(5), p[:5], p[:5], auc, n_boot=10)
    assert (nothing["delta"], nothing["ci"], nothing["replicates"]) == (None, None, 0)
    empty = bootstrap_difference(y[:0], p[:0], p[:0], auc)
    assert (empty["delta"], empty["ci"], empty["rows"]) == (None, None, 0)


def test_every_result_is_json() -> None:
    y, primary, shadow = _two_models(200, 8)
    nan_scores = np.where(np.arange(200) == 0, np.nan, shadow)
    results = [
        mcnemar(0, 0), mcnemar(3, 9), mcnemar(30, 70),
        delong(y, primary, shadow), delong(np.zeros(3), primary[:3], shadow[:3]),
        delong(y[:3] * 0 + np.array([0, 0, 1]), primary[:3], shadow[:3]),
        logloss_difference(y, primary, shadow), logloss_difference(y, primary, nan_scores),
        logloss_difference(y[:0], primary[:0], shadow[:0]), logloss_ci(y, primary),
        logloss_ci(y, nan_scores),
        bootstrap_difference(y, primary, shadow, calibration_error, n_boot=20),
        bootstrap_difference(np.zeros(5), primary[:5], shadow[:5], auc, n_boot=5),
    ]  # fmt: skip
    assert json.loads(json.dumps(results, allow_nan=False)) is not None

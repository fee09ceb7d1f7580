"""The split mode's unpaired tests against a textbook example, scipy, scikit-learn and the
DeLong variance by its definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from inference.gate import log_loss
from streams.report.significance import delong
from streams.report.stats import Z95
from streams.report.unpaired import auc_difference, auc_variance, logloss_arms, two_proportions


def _arm(n: int, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of one arm; less noise, a better model."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * signal))).astype(np.int64)
    return y, 1 / (1 + np.exp(-(signal + rng.normal(0, noise, n))))


def test_two_proportions_matches_newcombes_worked_example() -> None:
    """Newcombe (1998), Statistics in Medicine 17:873, Table II, 56/70 vs 48/80: the hybrid
    score interval (method 10) is +0.0524 to +0.3339."""
    result = two_proportions(48, 80, 56, 70)
    assert result["delta"] == pytest.approx(0.2, abs=1e-12)
    assert result["ci"] == pytest.approx([0.0524, 0.3339], abs=5e-5)
    assert (result["rate1"], result["rate2"]) == (0.6, 0.8)


TABLES = [(48, 80, 56, 70), (3, 1000, 12, 900), (500, 5000, 480, 5100), (0, 40, 5, 40)]


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), TABLES)
def test_two_proportions_p_value_is_the_uncorrected_chi_square_on_the_table(
    x1: int, n1: int, x2: int, n2: int
) -> None:
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    expected = sps.chi2_contingency(table, correction=False).pvalue
    assert two_proportions(x1, n1, x2, n2)["p_value"] == pytest.approx(expected, rel=1e-9)


def test_two_proportions_edge_cases() -> None:
    assert two_proportions(0, 10, 0, 10)["p_value"] == 1.0  # no variation: no evidence
    assert two_proportions(10, 10, 0, 10)["ci"][0] == pytest.approx(-1.0)  # stays in [-1, 1]
    empty = two_proportions(0, 0, 3, 10)
    assert (empty["delta"], empty["ci"], empty["p_value"]) == (None, None, None)
    with pytest.raises(ValueError, match="successes"):
        two_proportions(5, 4, 1, 2)


def _brute_variance(y: np.ndarray, s: np.ndarray) -> float:
    """DeLong's variance of one AUC by its definition, O(n²)."""
    x, z = s[y == 1][:, None], s[y == 0][None, :]
    psi = (x > z) + 0.5 * (x == z)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(np.var(v10, ddof=1) / len(v10) + np.var(v01, ddof=1) / len(v01))


def test_auc_variance_is_delongs_by_definition_and_the_paired_tests_own() -> None:
    y, s = _arm(600, 1, 1.0)
    s = np.round(s, 2)  # ties: counted one half
    auc, variance = auc_variance(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s), rel=1e-12)
    assert variance == pytest.approx(_brute_variance(y, s), rel=1e-9)
    # the paired test's interval of one model's AUC comes from the same variance
    half = Z95 * math.sqrt(variance)
    assert delong(y, s, s)["auc1_ci"] == pytest.approx([auc - half, auc + half], rel=1e-9)


def test_auc_difference_of_independent_arms_adds_their_variances() -> None:
    y1, s1 = _arm(3000, 2, 1.5)
    y2, s2 = _arm(2000, 3, 0.3)  # a clearly better canary
    result = auc_difference(y1, s1, y2, s2)
    auc1, auc2 = roc_auc_score(y1, s1), roc_auc_score(y2, s2)
    assert (result["auc1"], result["auc2"]) == pytest.approx((auc1, auc2), rel=1e-12)
    se = math.sqrt(_brute_variance(y1, s1) + _brute_variance(y2, s2))
    delta = auc2 - auc1
    assert result["ci"] == pytest.approx([delta - Z95 * se, delta + Z95 * se], rel=1e-9)
    assert result["p_value"] == pytest.approx(2 * sps.norm.sf(delta / se), rel=1e-6)
    assert result["ci"][0] > 0 and result["p_value"] < 1e-6
    same = auc_difference(y1, s1, y1, s1)
    assert (same["delta"], same["p_value"]) == (0.0, 1.0)
    one_class = auc_difference(np.ones(5), np.arange(5) / 5, y2, s2)
    assert (one_class["auc1"], one_class["delta"], one_class["ci"]) == (None, None, None)


def test_logloss_arms_is_welchs_test_on_the_per_event_losses() -> None:
    y1, p1 = _arm(1500, 4, 1.0)
    y2, p2 = _arm(900, 5, 0.5)
    result = logloss_arms(y1, p1, y2, p2)
    assert result["logloss1"] == pytest.approx(log_loss(y1, p1), rel=1e-12)
    assert result["logloss2"] == pytest.approx(log_loss(y2, p2), rel=1e-12)
    assert result["delta"] == pytest.approx(log_loss(y2, p2) - log_loss(y1, p1), rel=1e-9)

    def losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))

    welch = sps.ttest_ind(losses(y2, p2), losses(y1, p1), equal_var=False)
    lo, hi = result["ci"]
    se = (hi - lo) / (2 * Z95)
    assert result["delta"] / se == pytest.approx(welch.statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(2 * sps.norm.sf(abs(welch.statistic)), rel=1e-6)
    assert hi < 0  # the less noisy arm is clearly better
    empty = logloss_arms([], [], y2, p2)
    assert (empty["delta"], empty["ci"]) == (None, None)

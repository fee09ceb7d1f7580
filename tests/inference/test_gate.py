"""The promotion gate: its metrics against hand-computed values, and its reasons."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from inference.gate import (
    GateConfig,
    auc,
    calibration_error,
    gate,
    log_loss,
    sample_reasons,
)


def test_log_loss_by_hand() -> None:
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert log_loss(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(expected)


def test_log_loss_of_a_sure_miss_is_clipped_not_infinite() -> None:
    assert log_loss(np.array([0]), np.array([1.0])) == pytest.approx(-math.log(1e-7), rel=1e-6)


def test_auc_by_hand() -> None:
    # Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of the 4 pairs are in order.
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75


def test_auc_counts_a_tie_as_one_half() -> None:
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    # Pairs: 0.5>0.1 (1), 0.5=0.5 (1/2), 0.9 beats both (2): 3.5 of 4.
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.5, 0.5, 0.9])) == 0.875


def test_auc_matches_counting_every_pair() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = rng.integers(0, 20, 300) / 20.0  # many ties
    pairs = [
        1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(s[y == 1], s[y == 0])
    ]
    assert auc(y, s) == pytest.approx(np.mean(pairs))


def test_auc_is_undefined_with_one_class() -> None:
    assert math.isnan(auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_calibration_error_by_hand() -> None:
    p = np.array([0.05, 0.15, 0.15, 0.95])
    y = np.array([0, 0, 1, 1])
    # Bin 0: |0.05 - 0| x 1/4; bin 1: |0.15 - 0.5| x 2/4; bin 9: |0.95 - 1| x 1/4.
    assert calibration_error(y, p) == pytest.approx(0.05 / 4 + 0.35 / 2 + 0.05 / 4)


def test_calibration_error_puts_one_in_the_last_bin() -> None:
    assert calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0


def test_metrics_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="as many scores as labels"):
        log_loss(np.array([1, 0]), np.array([0.5]))


def test_gate_variables() -> None:
    names = GateConfig.env_names()
    assert names["min_auc"] == "STREAMSCORE_RETRAIN_GATE_MIN_AUC"
    assert names["logloss_margin"] == "STREAMSCORE_RETRAIN_GATE_LOGLOSS_MARGIN"


def test_sample_reasons() -> None:
    config = GateConfig(min_labels=100, min_positives=10)
    assert sample_reasons(100, 10, config) == []
    assert sample_reasons(99, 3, config) == [
        "only 99 labelled events in the range; at least 100",
        "only 3 positive labels in the range; at least 10",
    ]


def _world(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True probabilities and labels drawn from them: the true p is a perfect model."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(-2.0, 1.5, n)))
    return p, (rng.random(n) < p).astype(np.float64)


def test_a_model_as_good_as_the_primary_is_accepted() -> None:
    p, y = _world()
    decision = gate(p, p, y, GateConfig())
    assert decision.accepted
    assert decision.reasons == []
    assert decision.metrics["candidate_auc"] == decision.metrics["primary_auc"] > 0.75
    assert decision.metrics["holdout_rows"] == 4000
    assert decision.metrics["holdout_positives"] == y.sum()
    assert set(decision.metrics) >= {
        "candidate_logloss",
        "primary_logloss",
        "candidate_calibration_error",
        "primary_calibration_error",
    }


def test_a_candidate_that_learnt_nothing_is_rejected_even_against_a_bad_primary() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 4000).astype(np.float64)  # coin flips: nothing to learn
    candidate = 0.5 + rng.normal(0, 0.01, 4000)
    primary = rng.random(4000)
    decision = gate(candidate, primary, y, GateConfig())
    assert not decision.accepted
    assert len(decision.reasons) == 1
    assert decision.reasons[0].startswith("candidate AUC 0.")
    assert "below the floor of 0.600" in decision.reasons[0]


def test_a_worse_candidate_is_rejected_with_its_numbers() -> None:
    p, y = _world()
    rng = np.random.default_rng(2)
    noisy = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + rng.normal(0, 1.5, len(p)))))
    decision = gate(noisy, p, y, GateConfig())
    assert not decision.accepted
    m = decision.metrics
    logloss = next(r for r in decision.reasons if "log loss" in r)
    assert logloss == (
        f"candidate log loss {m['candidate_logloss']:.4f} is worse than the primary's "
        f"{m['primary_logloss']:.4f} by more than 0.0100"
    )
    assert any(r.startswith("candidate AUC") and "primary's" in r for r in decision.reasons)


def test_a_badly_calibrated_candidate_is_rejected() -> None:
    p, y = _world()
    squeezed = 0.5 + (p - 0.5) * 0.5  # same ranking, probabilities pulled to 0.5
    config = GateConfig(logloss_margin=1.0)  # only calibration should speak
    decision = gate(squeezed, p, y, config)
    assert decision.metrics["candidate_auc"] == pytest.approx(decision.metrics["primary_auc"])
    error = decision.metrics["candidate_calibration_error"]
    assert error > 0.05
    assert decision.reasons == [f"candidate calibration error {error:.4f} exceeds 0.0500"]


def test_non_finite_scores_are_rejected() -> None:
    p, y = _world(100)
    bad = p.copy()
    bad[3] = np.nan
    decision = gate(bad, p, y, GateConfig())
    assert decision.reasons == ["the candidate gives non-finite scores on the holdout"]


def test_a_holdout_with_one_class_cannot_be_judged() -> None:
    decision = gate(np.full(10, 0.1), np.full(10, 0.1), np.zeros(10), GateConfig())
    assert not decision.accepted
    assert "AUC is undefined" in decision.reasons[0]

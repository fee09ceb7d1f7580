"""Deciders: a model's outputs to a score and a decision, by the task, from the project."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.project import Decider
from tests.support.projects import FRAUD, example


def test_the_fraud_decider_is_the_thresholds_of_its_file() -> None:
    d = FRAUD.decider("scorer")
    assert d.names == ("approve", "review", "decline")
    assert d.positive == 2 and d.bounds == (0.3, 0.7)
    scores = np.array([0.0, 0.29, 0.3, 0.69, 0.7, 1.0])
    assert d.names_of(d.decide_scores(scores)) == [
        "approve", "approve", "review", "review", "decline", "decline"
    ]  # fmt: skip
    # one column, or the positive column of two
    assert d.decide(np.array([[0.9], [0.1]])).tolist() == [2, 0]
    assert d.decide(np.array([[0.1, 0.9], [0.9, 0.1]])).tolist() == [2, 0]
    assert d.scores(np.array([[0.1, 0.9]])).tolist() == [0.9]


def test_a_model_the_file_does_not_name_takes_the_first_ones_decider() -> None:
    assert FRAUD.decider("challenger") is FRAUD.decider("scorer")


def test_regression_bands() -> None:
    d = example("delivery").decider("eta")
    values = np.array([[10.0], [25.0], [44.9], [45.0], [90.0]])
    assert d.names_of(d.decide(values)) == ["fast", "normal", "normal", "late", "late"]
    assert d.scores(values).tolist() == values.ravel().tolist()
    assert d.describe() == "fast < 25 ≤ normal < 45 ≤ late"


def test_multiclass_argmax_with_a_minimum_probability() -> None:
    d = Decider.multiclass(("low", "mid", "high"), min_probability=0.5, otherwise="unsure")
    p = np.array([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]])
    assert d.names_of(d.decide(p)) == ["low", "high", "unsure"]
    assert d.scores(p).tolist() == [0.7, 0.5, 0.4]
    assert d.fits(3) and not d.fits(1)
    with pytest.raises(ValueError):
        d.decide_scores(np.array([0.5]))


def test_no_decisions_records_outputs_only() -> None:
    d = Decider.undecided("regression")
    assert d.names == ("none",)
    assert d.decide(np.array([[3.0], [4.0]])).tolist() == [0, 0]

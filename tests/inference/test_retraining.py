"""Retraining without services: the split by event time, the checks before training, and
the gate's verdict on a candidate that learnt something and on one that could not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from inference.gate import GateConfig
from inference.retraining import Recipe, TrainingSet, retrain, split_by_time
from inference.training import train
from tests.support.projects import FRAUD, INPUT_WIDTH, labelled_dataset

# The built-in trainer on the fraud example's columns, 12 epochs.
FAST = Recipe(train, {"epochs": 12}, FRAUD.layout.columns)
GATE = GateConfig(min_labels=500, min_positives=20)
DECIDE = FRAUD.decider("scorer")


def _dataset(n: int, seed: int = 0, labels: np.ndarray | None = None) -> TrainingSet:
    x, y = labelled_dataset(seed, n)
    times = np.random.default_rng(seed).permutation(n).astype(np.int64) * 1000 + 1_700_000_000_000
    return TrainingSet(x, y if labels is None else labels, times, np.ones(n, dtype=bool))


def _base_rate(rate: float) -> object:
    def primary(x: np.ndarray) -> np.ndarray:
        return np.full(len(x), rate)

    return primary


def test_split_holds_out_the_latest_events() -> None:
    times = np.array([50, 10, 40, 20, 30, 60, 70, 0])
    train, holdout = split_by_time(times, 0.25)
    assert times[train].tolist() == [0, 10, 20, 30, 40, 50]
    assert times[holdout].tolist() == [60, 70]
    _, holdout = split_by_time(times[:7], 0.25)  # ceil(7 / 4) = 2
    assert len(holdout) == 2


def test_training_set_checks_its_shapes() -> None:
    with pytest.raises(ValueError, match="x must have 3 rows"):
        TrainingSet(np.zeros((2, INPUT_WIDTH)), np.zeros(3), np.zeros(3), np.ones(3, bool))
    with pytest.raises(ValueError, match="x must have 3 rows"):
        TrainingSet(np.zeros(3), np.zeros(3), np.zeros(3), np.ones(3, bool))
    with pytest.raises(ValueError, match="one entry per row"):
        TrainingSet(np.zeros((3, INPUT_WIDTH)), np.zeros(3), np.zeros(2), np.ones(3, bool))
    with pytest.raises(ValueError, match="holdout_share"):
        Recipe(train, {}, FRAUD.layout.columns, holdout_share=1.0)


def test_too_few_labels_are_rejected_before_training() -> None:
    def primary(x: np.ndarray) -> np.ndarray:
        raise AssertionError("the primary must not be asked")

    steps: list[str] = []
    outcome = retrain(_dataset(300), primary, GATE, FAST, DECIDE, on_step=steps.append)
    assert not outcome.accepted
    assert steps == []  # no step beyond reading was taken
    assert outcome.model is None
    assert outcome.reasons[0] == "only 300 labelled events in the range; at least 500"
    assert outcome.metrics["rows"] == 300
    assert "candidate_auc" not in outcome.metrics


def test_a_candidate_that_learns_the_ground_truth_beats_a_base_rate_primary() -> None:
    data = _dataset(6000)
    seen: list[np.ndarray] = []

    def primary(x: np.ndarray) -> np.ndarray:
        seen.append(x)
        return np.full(len(x), float(data.y.mean()))

    steps: list[tuple[str, int]] = []
    outcome = retrain(
        data, primary, GATE, FAST, DECIDE, on_step=lambda s: steps.append((s, len(seen)))
    )
    assert outcome.accepted, outcome.reasons
    # Told of training before the primary is asked, and of gating before it is.
    assert steps == [("training", 0), ("gating", 0)]
    assert outcome.reasons == []
    m = outcome.metrics
    assert m["candidate_auc"] > 0.75 > m["primary_auc"] == 0.5
    assert m["candidate_logloss"] < m["primary_logloss"]
    assert m["rows"] == 6000 and m["train_rows"] == 4500 and m["holdout_rows"] == 1500
    assert m["point_in_time_share"] == 1.0
    # The primary scored the latest quarter of the rows in time order; the candidate learnt
    # on the rest.
    in_time_order = data.x[np.argsort(data.event_time_ms)]
    assert np.array_equal(seen[0], in_time_order[4500:])
    assert outcome.model is not None and outcome.train_x is not None
    assert np.array_equal(outcome.train_x, in_time_order[:4500])


def test_coin_flip_labels_are_rejected_by_the_auc_floor() -> None:
    labels = np.random.default_rng(9).integers(0, 2, 4000).astype(np.float32)
    outcome = retrain(_dataset(4000, labels=labels), _base_rate(0.5), GATE, FAST, DECIDE)
    assert not outcome.accepted
    assert any("below the floor" in r for r in outcome.reasons)
    assert outcome.model is not None  # trained, then refused


def test_a_training_part_with_one_class_is_rejected() -> None:
    data = _dataset(1000)
    labels = np.zeros(1000, dtype=np.float32)
    labels[data.event_time_ms >= np.sort(data.event_time_ms)[750]] = 1  # only in the holdout
    outcome = retrain(
        TrainingSet(data.x, labels, data.event_time_ms, data.point_in_time),
        _base_rate(0.5),
        GATE,
        FAST,
        DECIDE,
    )
    assert outcome.reasons == ["the training part has only one class: nothing to learn"]


def test_point_in_time_share_is_reported() -> None:
    data = _dataset(600)
    known = np.arange(600) % 4 != 0
    data = TrainingSet(data.x, data.y, data.event_time_ms, known)
    outcome = retrain(data, _base_rate(0.1), GateConfig(min_labels=10_000), FAST, DECIDE)
    assert outcome.metrics["point_in_time_share"] == 0.75


def test_a_model_of_another_task_is_refused_before_training() -> None:
    def trainer(rows: object, params: object) -> object:
        raise AssertionError("nothing may be trained")

    recipe = dataclasses.replace(FAST, trainer=trainer, task="regression")
    outcome = retrain(_dataset(600), _base_rate(0.1), GATE, recipe, DECIDE)
    assert not outcome.accepted and outcome.model is None
    assert outcome.reasons == [
        "retraining gates judge binary models; a regression model's gates come with per-task "
        "judging"
    ]

"""The label join: either side first, duplicates, expiry, and the error detector."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from drift.labels import Expired, LabelJoin, Match, error_detector


def test_prediction_first_then_label() -> None:
    table: dict[str, dict[str, Any]] = {}
    join = LabelJoin(table)
    assert join.add_prediction("e", "fraud", "2", 0.9, at_s=0) is None
    json.dumps(table)  # what the Faust table changelogs
    assert join.add_label("e", 1, at_s=5) == Match("fraud", "2", 0.9, 1, error=0)
    assert table == {}


def test_label_first_then_prediction() -> None:
    table: dict[str, dict[str, Any]] = {}
    join = LabelJoin(table)
    assert join.add_label("e", 0, at_s=0) is None
    json.dumps(table)
    assert join.add_prediction("e", "fraud", "2", 0.5, at_s=1) == Match("fraud", "2", 0.5, 0, 1)
    assert table == {}


@pytest.mark.parametrize(
    ("score", "label", "error"), [(0.49, 0, 0), (0.49, 1, 1), (0.5, 1, 0), (0.5, 0, 1)]
)
def test_error_is_the_decision_at_one_half_against_the_label(
    score: float, label: int, error: int
) -> None:
    join = LabelJoin({})
    join.add_prediction("e", "m", "1", score, at_s=0)
    match = join.add_label("e", label, at_s=0)
    assert match is not None and match.error == error


def test_a_repeated_side_keeps_the_first() -> None:
    join = LabelJoin({})
    join.add_prediction("e", "m", "1", 0.1, at_s=0)
    assert join.add_prediction("e", "m", "2", 0.9, at_s=1) is None
    assert join.add_label("e", 1, at_s=2) == Match("m", "1", 0.1, 1, 1)
    join.add_label("f", 1, at_s=0)
    assert join.add_label("f", 0, at_s=1) is None
    assert join.add_prediction("f", "m", "1", 0.9, at_s=2) == Match("m", "1", 0.9, 1, 0)


def test_expiry_drops_and_counts_what_waited_too_long() -> None:
    table: dict[str, dict[str, Any]] = {}
    join = LabelJoin(table, ttl_s=10)
    join.add_prediction("p_old", "m", "1", 0.3, at_s=0)
    join.add_label("l_old", 1, at_s=1)
    join.add_label("l_old2", 0, at_s=2)
    join.add_prediction("p_new", "m", "1", 0.3, at_s=8)
    assert join.expire(now_s=12.5) == Expired(predictions=1, labels=2)
    assert set(table) == {"p_new"}
    assert join.expire(now_s=12.5) == Expired(0, 0)
    assert join.add_label("p_old", 1, at_s=12) is None  # its prediction is gone


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        LabelJoin({}, ttl_s=0)
    with pytest.raises(ValueError):
        LabelJoin({}).add_label("e", 2, at_s=0)


def test_the_error_detector_ignores_a_lucky_start_and_sees_a_rising_error_rate() -> None:
    rng = np.random.default_rng(0)
    detector = error_detector()
    # 40 correct decisions first: river's default warm start would take 0 as the baseline.
    quiet = [0] * 40 + list((rng.random(6000) < 0.05).astype(int))
    for error in quiet:
        detector.update(error)
        assert not detector.drift_detected
    flags = []
    for error in (rng.random(3000) < 0.2).astype(int):
        detector.update(error)
        flags.append(detector.drift_detected)
    assert any(flags)

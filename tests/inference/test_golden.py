"""The golden set and its gate: the committed file is what the script writes, a sound model
decides every row as expected, and a candidate that flips rows is refused naming them."""

from __future__ import annotations

import numpy as np
import pytest

from inference.golden import DECISIONS, GOLDEN_FILE, GoldenSet, default_set, golden_gate, main
from inference.golden_build import render
from inference.retraining import scores_of
from inference.synthetic import labelled_dataset, true_probability
from inference.training import TrainConfig, train_mlp
from schemas.features import FEATURE_NAMES
from streams.worker.pipeline import PipelineConfig

DECIDE = PipelineConfig()


def test_the_committed_file_is_what_the_script_writes() -> None:
    assert GOLDEN_FILE.read_text() == render(), "run: python -m inference.golden --write"
    assert main(["--check"]) == 0
    assert main(["--bogus"]) == 2


def test_every_row_is_clear_cut_by_the_ground_truth() -> None:
    golden = default_set()
    assert len(golden) == 200
    assert len(set(golden.ids)) == 200
    assert set(golden.segments) == {"retail", "gaming", "travel", "none"}
    truth = DECIDE.decision_index(true_probability(golden.x))
    assert np.array_equal(truth, golden.expected)
    assert float(true_probability(golden.x).max()) < 0.01


def test_the_starter_model_flips_no_golden_decision() -> None:
    """ensure_default_model's data, seed and recipe; the starter must pass the gate."""
    x, y = labelled_dataset(0, 20_000)
    model = train_mlp(x, y, TrainConfig(seed=0)).model
    golden = default_set()
    scores = scores_of(model, golden.x)
    decision = golden_gate(scores, scores, golden, DECIDE, max_flips=0)
    assert decision.accepted, decision.reasons
    assert decision.metrics == {
        "golden_rows": 200.0,
        "golden_flips": 0.0,
        "golden_primary_flips": 0.0,
    }


def test_a_candidate_that_flips_golden_decisions_is_refused_naming_them() -> None:
    golden = default_set()
    primary = np.full(len(golden), 0.01)
    candidate = primary.copy()
    candidate[[3, 10, 20]] = [0.5, 0.9, 0.35]  # review, decline, review
    decision = golden_gate(candidate, primary, golden, DECIDE, max_flips=2)
    assert not decision.accepted
    assert decision.metrics["golden_flips"] == 3
    assert decision.metrics["golden_primary_flips"] == 0
    [reason] = decision.reasons
    assert reason.startswith("the candidate flips 3 of the 200 golden-set decisions")
    assert "(at most 2 allowed; the primary flips 0)" in reason
    assert f"{golden.ids[3]} (approve -> review)" in reason
    assert f"{golden.ids[10]} (approve -> decline)" in reason
    # Within the allowance: accepted, the flips still counted.
    within = golden_gate(candidate, primary, golden, DECIDE, max_flips=3)
    assert within.accepted and within.reasons == [] and within.metrics["golden_flips"] == 3


def test_a_reason_names_five_rows_and_counts_the_rest() -> None:
    golden = default_set()
    decision = golden_gate(np.full(200, 0.5), np.zeros(200), golden, DECIDE, max_flips=2)
    [reason] = decision.reasons
    assert reason.endswith(f"{golden.ids[4]} (approve -> review) and 195 more")


def test_rows_are_checked() -> None:
    row = {"id": "x", "expected": "approve", "why": "w", "segment": None}
    with pytest.raises(ValueError, match="golden row 1: missing or bad field 'amount'"):
        GoldenSet.from_rows([row])
    full = {**row, **dict.fromkeys(FEATURE_NAMES, 1.0)}
    assert GoldenSet.from_rows([full]).segments == ("none",)
    with pytest.raises(ValueError, match="unknown decision 'maybe'"):
        GoldenSet.from_rows([{**full, "expected": "maybe"}])
    with pytest.raises(ValueError, match="need 1 scores"):
        golden_gate(np.zeros(2), np.zeros(1), GoldenSet.from_rows([full]), DECIDE, 0)
    assert DECISIONS == ("approve", "review", "decline")

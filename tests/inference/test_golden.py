"""The golden set and its gate: the committed file is what the script writes, a sound model
decides every row as expected, and a candidate that flips rows is refused naming them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.golden import GoldenSet, golden_gate, project_set
from inference.repository import ModelRepository
from streams.simulation.starter import train_version
from tests.support.projects import EVENT_FIELDS, FEATURE_NAMES, FRAUD, true_probability

# examples/fraud/golden_build.py, imported as the project imports its files.
BUILD: Any = sys.modules[FRAUD.entry_point("golden_build:main").__module__]
DECIDE = FRAUD.decider("scorer")
SCRIPT = FRAUD.root / "golden_build.py"


def test_the_committed_file_is_what_the_script_writes() -> None:
    assert FRAUD.spec.gates.golden is not None
    assert FRAUD.resolve(FRAUD.spec.gates.golden) == BUILD.GOLDEN_FILE
    assert BUILD.GOLDEN_FILE.read_text() == BUILD.render(), (
        "run: python examples/fraud/golden_build.py --write"
    )
    assert BUILD.main(["--check"]) == 0
    assert BUILD.main(["--bogus"]) == 2
    assert BUILD.main([]) == 2


def test_the_script_checks_the_committed_file_from_the_command_line(tmp_path: Path) -> None:
    """Run as documented, from anywhere: ``python examples/fraud/golden_build.py --check``."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "up to date (200 rows)" in done.stdout


def test_every_row_is_clear_cut_by_the_ground_truth() -> None:
    golden = project_set(FRAUD)
    assert golden is not None
    assert len(golden) == 200
    assert len(set(golden.ids)) == 200
    assert set(golden.segments) == {"retail", "gaming", "travel", "none"}
    assert golden.names == DECIDE.names
    truth = DECIDE.decide_scores(true_probability(golden.x))
    assert np.array_equal(truth, golden.expected)
    assert float(true_probability(golden.x).max()) < 0.01


def test_the_starter_model_flips_no_golden_decision(tmp_path: Path) -> None:
    """The starter's data, seed and recipe (what `streamscore up` trains, from the project's
    simulator and trainer); the starter must pass the gate."""
    repo = ModelRepository(tmp_path)
    version = train_version(FRAUD, repo, "scorer")
    golden = project_set(FRAUD)
    assert golden is not None
    outputs = repo.load("scorer", version).predict(golden.x)
    decision = golden_gate(outputs, outputs, golden, DECIDE, max_flips=0)
    assert decision.accepted, decision.reasons
    assert decision.metrics == {
        "golden_rows": 200.0,
        "golden_flips": 0.0,
        "golden_primary_flips": 0.0,
    }


def test_a_candidate_that_flips_golden_decisions_is_refused_naming_them() -> None:
    golden = project_set(FRAUD)
    assert golden is not None
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
    golden = project_set(FRAUD)
    assert golden is not None
    decision = golden_gate(np.full(200, 0.5), np.zeros(200), golden, DECIDE, max_flips=2)
    [reason] = decision.reasons
    assert reason.endswith(f"{golden.ids[4]} (approve -> review) and 195 more")


def test_rows_are_checked() -> None:
    row = {"id": "x", "expected": "approve", "why": "w", "segment": None}
    with pytest.raises(ValueError, match="golden row 1: missing or bad field 'amount'"):
        GoldenSet.from_rows([row], FRAUD)
    full = {**row, **dict.fromkeys((*EVENT_FIELDS, *FEATURE_NAMES), 1.0)}
    assert GoldenSet.from_rows([full], FRAUD).segments == ("none",)
    with pytest.raises(ValueError, match="unknown decision 'maybe'"):
        GoldenSet.from_rows([{**full, "expected": "maybe"}], FRAUD)
    with pytest.raises(ValueError, match="need 1 outputs"):
        golden_gate(np.zeros(2), np.zeros(1), GoldenSet.from_rows([full], FRAUD), DECIDE, 0)
    assert GoldenSet.from_rows([full], FRAUD).names == ("approve", "review", "decline")

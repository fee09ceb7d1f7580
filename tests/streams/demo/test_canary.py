"""The canary scenario's pieces that need no services: its figures, its bad model, its options.

The scenario end to end (`streamscore demo --canary --quick`) takes longer than the CI
budget allows a test to; its run is recorded with its figures where the lead documents it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inference.gate import auc
from inference.repository import ModelRepository
from streams.cli import cli
from streams.demo.canary import BAD_GENERATOR, CanaryPlan, bad_model
from streams.demo.canary_watch import rollback_times, split_share
from streams.demo.fleet import NAMES
from tests.support.models import DEFAULT_MODEL
from tests.support.projects import FRAUD, labelled_dataset


def test_the_split_counts_entities_per_arm_and_those_seen_in_both() -> None:
    entities = {"canary": {"a", "b"}, "primary": {"c", "d", "e", "b"}}
    split = split_share(entities, Counter(canary=30, primary=70))
    assert (split.canary_entities, split.all_entities, split.both) == (2, 5, 1)
    assert split.share == pytest.approx(0.4)
    assert (split.canary_events, split.all_events) == (30, 100)
    assert np.isnan(split_share({}, Counter()).share)


def test_rollback_times_are_from_the_records_clocks() -> None:
    assert rollback_times(1_000, 7_500, 7_800) == (6.5, pytest.approx(0.3))
    assert rollback_times(1_000, 7_500, 7_000) == (6.5, pytest.approx(-0.5))
    assert rollback_times(1_000, 7_500, None) == (6.5, None)


def test_the_bad_model_is_inverted_says_so_and_is_trained_once(tmp_path: Path) -> None:
    repo = ModelRepository(tmp_path / "models")
    version, trained = bad_model(repo, FRAUD)
    assert (version, trained) == (1, True)
    assert repo.card(DEFAULT_MODEL, version).source.generator == BAD_GENERATOR  # type: ignore[union-attr]
    x, y = labelled_dataset(seed=7, n=5_000)
    scores = repo.load(DEFAULT_MODEL, version).predict(x).ravel()  # the exported file's
    assert auc(y, scores) < 0.3  # worse than chance: it learned the opposite
    assert bad_model(repo, FRAUD) == (1, False)  # found by its card, not trained again


def test_the_quick_plan_is_shorter_and_down_knows_the_guard() -> None:
    quick, full = CanaryPlan.quick(), CanaryPlan()
    assert quick.seconds < full.seconds and quick.guard_wait_s < full.guard_wait_s
    assert quick.percent == full.percent == 20.0
    assert "guard" in NAMES  # `streamscore down` stops a guard a killed demo left


def test_drift_options_are_refused_with_the_canary_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["demo", "--canary", "--drift-at", "10"])
    assert result.exit_code == 1
    assert "error: --drift-at is for the drift demo" in result.output
    assert len(result.output.strip().splitlines()) == 1

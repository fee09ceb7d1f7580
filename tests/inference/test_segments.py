"""The per-segment gate, and retraining with every gate: a candidate worse for one segment
is refused naming it; a sound one passes with every gate's metrics in the outcome."""

from __future__ import annotations

import numpy as np

from inference.gate import GateConfig
from inference.golden import project_set
from inference.retraining import Recipe, TrainingSet, retrain
from inference.segments import metric_name, segment_gate
from inference.training import train
from tests.support.projects import FRAUD, labelled_dataset, true_probability

DECIDE = FRAUD.decider("scorer")  # review from 0.3, decline from 0.7 (the positive call)
CONFIG = GateConfig(segment_min_rows=500, segment_min_positives=30)
NAMES = np.array(["retail", "gaming", "travel", None], dtype=object)


def _holdout(n: int = 8000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a good model's scores (the ground truth) and segments, one per row."""
    x, y = labelled_dataset(seed, n)
    segments = NAMES[np.random.default_rng(seed).integers(0, len(NAMES), n)]
    return y, true_probability(x), segments


def test_a_candidate_as_good_as_the_primary_passes_every_segment() -> None:
    y, scores, segments = _holdout()
    noisy = np.clip(scores + np.random.default_rng(2).normal(0, 0.005, len(y)), 0, 1)
    decision = segment_gate(noisy, scores, y, segments, DECIDE, CONFIG)
    assert decision.accepted, decision.reasons
    m = decision.metrics
    assert m["segment_none_rows"] == np.sum(segments == None)  # noqa: E711 (numpy compare)
    assert abs(m["segment_travel_candidate_auc"] - m["segment_travel_primary_auc"]) < 0.05
    assert m["segment_retail_candidate_positive_rate"] >= 0
    assert set(m) >= {f"segment_{s}_positives" for s in ("retail", "gaming", "travel", "none")}


def test_a_candidate_that_ranks_one_segment_at_random_is_refused_naming_it() -> None:
    y, scores, segments = _holdout()
    candidate = scores.copy()
    travel = np.flatnonzero(segments == "travel")
    candidate[travel] = np.random.default_rng(3).permutation(candidate[travel])
    decision = segment_gate(candidate, scores, y, segments, DECIDE, CONFIG)
    assert not decision.accepted
    [reason] = decision.reasons
    m = decision.metrics
    assert reason.startswith(
        f"segment 'travel': candidate AUC {m['segment_travel_candidate_auc']:.3f} is below the "
        f"primary's {m['segment_travel_primary_auc']:.3f} by more than 0.050"
    )
    assert m["segment_travel_candidate_auc"] < 0.6 < m["segment_travel_primary_auc"]


def test_a_candidate_that_declines_one_segment_more_is_refused_naming_it() -> None:
    y, scores, segments = _holdout()
    candidate = np.where(segments == "gaming", np.maximum(scores, 0.75 * (scores > 0.05)), scores)
    decision = segment_gate(candidate, scores, y, segments, DECIDE, CONFIG)
    assert not decision.accepted
    m = decision.metrics
    gap = m["segment_gaming_candidate_positive_rate"] - m["segment_gaming_primary_positive_rate"]
    assert gap > 0.05
    assert any(
        r.startswith("segment 'gaming': the candidate calls ") and "a gap of more than 5.0%" in r
        for r in decision.reasons
    ), decision.reasons
    assert not any("retail" in r or "travel" in r for r in decision.reasons)


def test_a_small_segment_is_reported_and_not_judged() -> None:
    y, scores, segments = _holdout(n=1600)
    candidate = np.where(segments == "travel", 0.9, scores)  # declines all of travel
    strict = GateConfig(segment_min_rows=1000)  # every segment has about 400 rows
    decision = segment_gate(candidate, scores, y, segments, DECIDE, strict)
    assert decision.accepted
    assert decision.metrics["segment_travel_candidate_positive_rate"] == 1.0


def test_metric_names_are_tidy() -> None:
    assert metric_name("Travel & Leisure") == "segment_travel_leisure"
    assert metric_name("???") == "segment_none"


def test_retraining_runs_every_gate_and_a_sound_candidate_passes_them() -> None:
    n = 6000
    x, y = labelled_dataset(0, n)
    times = np.arange(n, dtype=np.int64) * 1000 + 1_700_000_000_000
    segments = NAMES[np.arange(n) % len(NAMES)]
    data = TrainingSet(x, y, times, np.ones(n, dtype=bool), segments)
    golden_asked: list[int] = []

    def primary(rows: np.ndarray) -> np.ndarray:
        golden_asked.append(len(rows))
        return np.full(len(rows), float(y.mean()))

    gate = GateConfig(min_labels=500, min_positives=20, segment_min_positives=10)
    fast = Recipe(train, {"epochs": 12}, FRAUD.layout.columns)
    golden = project_set(FRAUD)
    outcome = retrain(data, primary, gate, fast, DECIDE, golden)
    assert outcome.accepted, outcome.reasons
    m = outcome.metrics
    assert golden_asked == [1500, 200]  # the holdout, then the golden set
    assert m["golden_rows"] == 200 and m["golden_flips"] <= gate.golden_max_flips
    assert m["segment_none_rows"] == 375 and m["segment_travel_rows"] == 375
    assert m["segment_retail_candidate_auc"] > m["segment_retail_primary_auc"] == 0.5
    # The same set with a candidate that declines everything: every gate says why.
    refusing = GateConfig(min_labels=500, min_positives=20, segment_min_rows=100,
                          segment_min_positives=5, golden_max_flips=0, segment_auc_margin=0.0,
                          segment_positive_margin=0.0)  # fmt: skip
    strict = retrain(data, lambda r: np.full(len(r), 0.99), refusing, fast, DECIDE, golden)
    assert not strict.accepted
    assert sum(r.startswith("segment '") for r in strict.reasons) == 4  # one per segment

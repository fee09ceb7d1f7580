"""The guard's pure parts: the windowed figures, the bounded label join, the doctests."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from inference.gate import auc, log_loss
from schemas.project import Decider
from streams.guard import join as join_module
from streams.guard import quality as quality_module
from streams.guard.join import Joined, LabelJoin, sampled
from streams.guard.quality import EMPTY, Key, QualityWindow, Windows, quality

CONFIG = Decider.binary({"review": 0.3, "decline": 0.7}, "approve", positive="decline")
CANARY, PRIMARY = Key("scorer:3", "canary"), Key("scorer:2", "primary")


def test_the_figures_follow_their_definitions() -> None:
    # decline (score >= 0.7) is the positive call; review and approve are not.
    scores = np.array([0.9, 0.8, 0.75, 0.5, 0.1, 0.2])
    labels = np.array([1, 0, 1, 1, 0, 0])
    latency = np.linspace(0.01, 0.06, 6)
    q = quality(scores, labels, latency, CONFIG)
    # declined: 0.9 (1), 0.8 (0), 0.75 (1) -> 2 true of 3; positives: 3, 2 declined.
    assert q.labelled == 6
    assert q.precision == pytest.approx(2 / 3)
    assert q.recall == pytest.approx(2 / 3)
    # errors: 0.8 declined but 0; 0.5 reviewed but 1 -> 2 of 6.
    assert q.error_rate == pytest.approx(2 / 6)
    assert q.auc == auc(labels, scores)
    assert q.logloss == log_loss(labels, scores)
    assert q.latency_p99_s == pytest.approx(np.quantile(latency, 0.99))


def test_undefined_figures_are_nan_and_left_out_of_the_metrics_map() -> None:
    q = quality(np.array([0.1, 0.2]), np.array([0, 0]), np.array([0.0, 0.0]), CONFIG)
    assert math.isnan(q.auc) and math.isnan(q.precision) and math.isnan(q.recall)
    assert q.error_rate == 0.0
    assert set(q.as_metrics()) == {"labelled", "logloss", "error_rate", "latency_p99_s"}
    assert EMPTY.labelled == 0 and EMPTY.as_metrics() == {"labelled": 0.0}


def test_the_window_slides_over_the_latest_predictions_only() -> None:
    window = QualityWindow(4)
    for _ in range(4):
        window.add(0.9, 0, latency_s=1.0)  # four wrong declines
    assert window.summary(CONFIG).error_rate == 1.0
    for _ in range(4):
        window.add(0.1, 0, latency_s=0.01)  # then four right approvals push them out
    summary = window.summary(CONFIG)
    assert (summary.labelled, summary.error_rate, window.added) == (4, 0.0, 8)
    assert summary.latency_p99_s == pytest.approx(0.01)
    window.clear()
    assert window.summary(CONFIG) == EMPTY


def test_windows_are_kept_per_model_and_role() -> None:
    windows = Windows(10)
    windows.add(CANARY, 0.9, 0, 0.1)
    windows.add(PRIMARY, 0.1, 0, 0.1)
    assert windows.summary(CANARY, CONFIG).error_rate == 1.0
    assert windows.summary(PRIMARY, CONFIG).error_rate == 0.0
    assert windows.summary(Key("other:1", "shadow"), CONFIG) == EMPTY
    windows.drop(CANARY)
    assert windows.summary(CANARY, CONFIG) == EMPTY


def test_a_label_meets_every_prediction_of_its_event_whichever_comes_first() -> None:
    join = LabelJoin(ttl_s=60, max_entries=10)
    shadow = Key("challenger:1", "shadow")
    assert join.add_prediction("e1", CANARY, 0.9, 0.02, at_s=0) == []
    assert join.add_label("e1", 0, at_s=1) == [Joined(CANARY, 0.9, 0, 0.02)]
    # a shadow's prediction read after the label still meets it...
    assert join.add_prediction("e1", shadow, 0.3, 0.03, at_s=2) == [Joined(shadow, 0.3, 0, 0.03)]
    # ...and a prediction or a label delivered twice counts once.
    assert join.add_prediction("e1", CANARY, 0.9, 0.02, at_s=3) == []
    assert join.add_label("e1", 1, at_s=3) == []
    assert join.add_prediction("e2", PRIMARY, 0.1, 0.01, at_s=3) == []
    assert join.add_prediction("e2", PRIMARY, 0.1, 0.01, at_s=3) == []
    assert join.add_label("e2", 1, at_s=4) == [Joined(PRIMARY, 0.1, 1, 0.01)]


def test_the_join_is_bounded_by_age_and_by_count_and_counts_what_it_drops() -> None:
    join = LabelJoin(ttl_s=10, max_entries=3)
    for i in range(5):  # two predictions too many: the two oldest go
        join.add_prediction(f"p{i}", PRIMARY, 0.5, 0.0, at_s=float(i))
    assert list(join.predictions) == ["p2", "p3", "p4"]
    assert join.unmatched.predictions == 2
    join.add_label("l1", 1, at_s=0.0)  # never meets a prediction
    join.add_label("p4", 1, at_s=0.0)  # met p4: not unmatched when it expires
    join.expire(now_s=12.5)  # older than 2.5 s goes: p2 and both labels
    assert list(join.predictions) == ["p3"]
    assert not join.labels
    assert (join.unmatched.predictions, join.unmatched.labels) == (3, 1)
    with pytest.raises(ValueError, match="0 or 1"):
        join.add_label("x", 2, at_s=0.0)


def test_sampling_is_a_stable_share_of_event_ids() -> None:
    ids = [f"evt-{i}" for i in range(20_000)]
    chosen = [i for i in ids if sampled(i, 0.1)]
    assert 0.08 < len(chosen) / len(ids) < 0.12
    assert chosen == [i for i in ids if sampled(i, 0.1)]
    assert all(sampled(i, 1.0) for i in ids[:100])


@pytest.mark.parametrize("module", [join_module, quality_module])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0

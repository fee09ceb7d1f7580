"""The worker's half: batches counted into window summaries, exactly and cheaply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drift.reference import SCORE, Reference
from drift.summary import RepositoryReferences, WindowAccumulator
from drift.windows import WindowConfig
from schemas.codec import codec_for
from tests.support.projects import FRAUD, N_EVENT, sample_features, true_probability

COLUMNS = FRAUD.layout.columns
WATCHED = (*COLUMNS, SCORE)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a multiple of every window size here


def accumulator(
    reference: Reference | None, window: WindowConfig, **options: Any
) -> WindowAccumulator:
    """A worker's accumulator for the fraud layout (its feature columns are the view's)."""
    return WindowAccumulator(
        Fixed(reference), window, feature_columns=FRAUD.layout.feature_columns, **options
    )


class Fixed:
    def __init__(self, reference: Reference | None) -> None:
        self.reference = reference

    def get(self, name: str, version: str) -> Reference | None:
        return self.reference


@pytest.fixture(scope="module")
def reference() -> Reference:
    x = sample_features(np.random.default_rng(1), 10_000)
    return Reference.build(x, true_probability(x), inputs=COLUMNS)


def batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = sample_features(np.random.default_rng(seed), n)
    return x, true_probability(x).astype(np.float32)


def test_a_batch_over_two_windows_is_split_by_event_time(reference: Reference) -> None:
    acc = accumulator(reference, WindowConfig(size_s=5.0), producer="p")
    x, scores = batch(10, 2)
    times = T0 + np.array([0, 1, 2, 3, 4, 5_000, 5_001, 5_002, 9_999, 4_999])
    missing = np.zeros(10, bool)
    missing[[0, 5]] = True
    decisions = np.array([0, 1, 2, 0, 0, 0, 1, 1, 2, 0])
    assert acc.add("m", "1", times, x, scores, missing, decisions)
    first, second = acc.drain()
    assert (first["window_start"], first["window_end"]) == (T0, T0 + 5_000)
    assert (first["events"], first["features_missing"]) == (6, 1)
    assert (second["events"], second["features_missing"]) == (4, 1)
    assert first["decisions"] == [4, 1, 1] and second["decisions"] == [1, 2, 1]
    assert (first["max_event_time"], second["max_event_time"]) == (T0 + 4_999, T0 + 9_999)
    assert (first["seq"], second["seq"]) == (1, 2)
    counts = np.array(first["counts"]).reshape(len(WATCHED), -1)
    rows = [0, 1, 2, 3, 4, 9]
    columns = np.column_stack([x[rows], scores[rows]])
    expected = reference.histogram(columns)
    entity = slice(N_EVENT, len(WATCHED) - 1)
    assert FRAUD.layout.feature_columns.tolist() == list(range(N_EVENT, len(COLUMNS)))
    expected[entity] -= reference.histogram(columns[:1])[entity]  # row 0 had no features
    assert (counts == expected).all()
    assert acc.drain() == []  # deltas: nothing new since the last drain


def test_stale_vectors_are_counted_and_their_feature_columns_are_not(
    reference: Reference,
) -> None:
    acc = accumulator(reference, WindowConfig(size_s=5.0), producer="p")
    x, scores = batch(6, 9)
    missing = np.array([True, False, False, False, False, False])
    stale = np.array([False, True, True, False, False, False])
    decisions = np.array([0, 0, 2, 1, 4, 0])  # a model of five decisions
    acc.add("m", "1", T0 + np.arange(6), x, scores, missing, decisions, stale=stale,
            n_decisions=5)  # fmt: skip
    (summary,) = acc.drain()
    assert (summary["events"], summary["features_missing"], summary["features_stale"]) == (6, 1, 2)
    assert summary["decisions"] == [3, 1, 1, 0, 1]
    counts = np.array(summary["counts"]).reshape(len(WATCHED), -1)
    columns = np.column_stack([x, scores])
    expected = reference.histogram(columns)
    entity = slice(N_EVENT, len(WATCHED) - 1)
    expected[entity] -= reference.histogram(columns[:3])[entity]  # no features, or stale ones
    assert (counts == expected).all()
    codec = codec_for("window_summary", logical_types=False)
    assert codec.decode(codec.encode(summary)) == summary


def test_summaries_encode_with_their_schema(reference: Reference) -> None:
    acc = accumulator(reference, WindowConfig(), producer="p")
    x, scores = batch(100, 3)
    acc.add("m", "1", T0 + np.arange(100), x, scores, np.zeros(100, bool), np.zeros(100, int))
    codec = codec_for("window_summary", logical_types=False)
    (summary,) = acc.drain()
    assert codec.decode(codec.encode(summary)) == summary


def test_a_version_without_a_reference_is_not_counted() -> None:
    acc = accumulator(None, WindowConfig(), producer="p")
    x, scores = batch(8, 4)
    assert not acc.add("m", "9", T0 + np.arange(8), x, scores, np.zeros(8, bool), np.zeros(8, int))
    assert acc.unmonitored == 8 and acc.drain() == []


def test_references_are_read_once_and_absent_ones_asked_again_later(
    reference: Reference, tmp_path: Path
) -> None:
    now = [0.0]
    refs = RepositoryReferences(tmp_path, clock=lambda: now[0])
    assert refs.get("m", "1") is None
    (tmp_path / "m" / "1").mkdir(parents=True)
    reference.save(tmp_path / "m" / "1")
    assert refs.get("m", "1") is None  # believed absent for a while
    now[0] = 60.0
    assert refs.get("m", "1") is not None
    (tmp_path / "m" / "1" / "reference.json").unlink()
    assert refs.get("m", "1") is not None  # a version never changes: kept


def test_hopping_windows_count_each_event_in_each_of_its_windows(reference: Reference) -> None:
    acc = accumulator(reference, WindowConfig(size_s=4.0, hop_s=2.0), producer="p")
    x, scores = batch(1, 5)
    acc.add("m", "1", np.array([T0 + 3_000]), x, scores, np.zeros(1, bool), np.zeros(1, int))
    assert sorted(s["window_start"] for s in acc.drain()) == [T0, T0 + 2_000]


def test_the_watermark_is_the_slowest_partition_until_it_goes_quiet(reference: Reference) -> None:
    now = [0.0]
    acc = accumulator(reference, WindowConfig(idle_close_s=10.0), producer="p")
    acc._clock = lambda: now[0]
    x, scores = batch(4, 6)
    times = T0 + np.array([30_000, 31_000, 9_000, 10_000])
    acc.add("m", "1", times, x, scores, np.zeros(4, bool), np.zeros(4, int), np.array([0, 0, 1, 1]))
    assert acc.watermark() == T0 + 10_000  # partition 1 is 21 s behind partition 0
    assert {s["watermark"] for s in acc.drain()} == {T0 + 10_000}
    now[0] = 11.0
    acc.add("m", "1", T0 + np.array([32_000]), x[:1], scores[:1], np.zeros(1, bool),
            np.zeros(1, int), np.array([0]))  # fmt: skip
    assert acc.watermark() == T0 + 32_000  # partition 1 said nothing for 11 s


def test_a_starting_worker_claims_no_progress_until_every_partition_spoke(
    reference: Reference,
) -> None:
    now = [0.0]
    acc = accumulator(reference, WindowConfig(idle_close_s=10.0), producer="p", partitions=3)
    acc._clock = lambda: now[0]
    x, scores = batch(2, 8)
    acc.add("m", "1", T0 + np.array([30_000, 9_000]), x, scores, np.zeros(2, bool),
            np.zeros(2, int), np.array([0, 1]))  # fmt: skip
    assert acc.watermark() == 0  # partition 2 may still hold events of the early windows
    acc.add("m", "1", T0 + np.array([5_000]), x[:1], scores[:1], np.zeros(1, bool),
            np.zeros(1, int), np.array([2]))  # fmt: skip
    assert acc.watermark() == T0 + 5_000  # all three heard from: the slowest one
    lone = accumulator(reference, WindowConfig(idle_close_s=10.0), producer="q", partitions=3)
    lone._clock = lambda: now[0]
    lone.add("m", "1", T0 + np.array([30_000, 9_000]), x, scores, np.zeros(2, bool),
             np.zeros(2, int), np.array([0, 1]))  # fmt: skip
    now[0] = 9.5
    assert lone.watermark() == 0
    now[0] = 10.5
    lone.add("m", "1", T0 + np.array([31_000, 9_500]), x, scores, np.zeros(2, bool),
             np.zeros(2, int), np.array([0, 1]))  # fmt: skip
    assert lone.watermark() == T0 + 9_500  # partition 2 is another worker's, it seems


def test_partition_progress_is_due_ten_times_a_second_at_most(reference: Reference) -> None:
    now = [100.0]
    acc = accumulator(reference, WindowConfig(), producer="p")
    acc._clock = lambda: now[0]
    assert acc.progress_due()
    assert not acc.progress_due()
    x, scores = batch(2, 7)
    acc.add("m", "1", np.array([T0 + 5, T0 + 6]), x, scores, np.zeros(2, bool),
            np.zeros(2, int), None, track=False)  # fmt: skip
    assert acc.watermark() == 0  # counted, but the progress was not due
    now[0] = 100.25
    assert acc.progress_due()

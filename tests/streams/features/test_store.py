"""Pure logic of the store's layout: packed float32 vectors and their update time, defaults
where none is stored, where it is malformed or older than the view's ttl; vectors of the
layout before update times still read."""

from __future__ import annotations

import time

import numpy as np
import pytest

from schemas.project import Project
from streams.features.store import FeatureRows, VectorLayout

NOW_MS = 1_790_000_000_000


def test_unpack_fills_defaults_for_missing_and_malformed(project: Project) -> None:
    layout = VectorLayout.of(project)
    row = np.arange(layout.width, dtype=np.float32)
    rows = layout.unpack_many([layout.pack(row), None, b"\x00" * 3, layout.pack(row * 2)])
    np.testing.assert_array_equal(rows.values[0], row)
    np.testing.assert_array_equal(rows.values[1], project.feature_defaults)
    np.testing.assert_array_equal(rows.values[2], project.feature_defaults)
    np.testing.assert_array_equal(rows.values[3], row * 2)
    assert rows.missing.tolist() == [False, True, True, False]
    with pytest.raises(ValueError):
        layout.pack([1.0, 2.0])


def test_the_layout_is_the_projects_view(project: Project) -> None:
    layout = VectorLayout.of(project)
    assert layout.width == len(project.feature_names)
    np.testing.assert_array_equal(layout.defaults, project.feature_defaults)
    assert layout.ttl_ms == project.ttl_ms is not None
    assert layout.key("abc") == project.key_prefix + "abc"


def test_pack_writes_the_values_then_the_update_time(project: Project) -> None:
    layout = VectorLayout.of(project)
    row = np.linspace(0.5, 3.5, layout.width, dtype=np.float32)
    packed = layout.pack(row, updated_at_ms=NOW_MS - 1234)
    assert len(packed) == 4 * layout.width + 8
    np.testing.assert_array_equal(np.frombuffer(packed[:-8], dtype="<f4"), row)
    assert int.from_bytes(packed[-8:], "little", signed=True) == NOW_MS - 1234
    assert layout.ages_ms([packed, None, row.astype("<f4").tobytes()], NOW_MS) == [1234, None, None]


def test_pack_without_a_time_stamps_now(project: Project) -> None:
    layout = VectorLayout.of(project)
    before = int(time.time() * 1000)
    packed = layout.pack(project.feature_defaults)
    after = int(time.time() * 1000)
    assert before <= int.from_bytes(packed[-8:], "little", signed=True) <= after


def test_a_vector_older_than_the_ttl_reads_as_defaults_flagged_stale(project: Project) -> None:
    layout = VectorLayout.of(project)
    assert layout.ttl_ms is not None
    ttl = layout.ttl_ms
    row = project.feature_defaults + 1.5
    raw = [
        layout.pack(row, NOW_MS),  # fresh: written now
        layout.pack(row * 2, NOW_MS - ttl),  # exactly the ttl old: still fresh
        layout.pack(row * 3, NOW_MS - ttl - 1),  # a millisecond older: stale
        layout.pack(row * 4, NOW_MS - 10 * ttl),
        None,
    ]
    rows = layout.unpack_many(raw, now_ms=NOW_MS)
    np.testing.assert_array_equal(rows.values[0], row)
    np.testing.assert_array_equal(rows.values[1], row * 2)
    for i in (2, 3, 4):
        np.testing.assert_array_equal(rows.values[i], project.feature_defaults)
    assert rows.stale.tolist() == [False, False, True, True, False]
    assert rows.missing.tolist() == [False, False, False, False, True]  # stale is not missing
    assert not rows.unknown_age.any()


def test_a_batch_of_only_stamped_vectors_reads_as_the_general_path_does(
    project: Project,
) -> None:
    """Every vector present and stamped takes one decode; appending one missing entity
    sends the same vectors through the per-row path, which must agree row for row."""
    layout = VectorLayout.of(project)
    assert layout.ttl_ms is not None
    rng = np.random.default_rng(5)
    ages = [0, layout.ttl_ms, layout.ttl_ms + 1, 3, 10 * layout.ttl_ms]
    raw = [layout.pack(rng.normal(size=layout.width), NOW_MS - a) for a in ages]
    fast = layout.unpack_many(raw, now_ms=NOW_MS)
    general = layout.unpack_many([*raw, None], now_ms=NOW_MS)
    np.testing.assert_array_equal(fast.values, general.values[:-1])
    assert fast.values.dtype == general.values.dtype
    assert fast.stale.tolist() == general.stale[:-1].tolist() == [False, False, True, False, True]
    assert fast.missing.tolist() == general.missing[:-1].tolist() == [False] * 5
    assert not fast.unknown_age.any()
    fast.values[0, 0] = 99.0  # writable, like the general path's copy
    assert layout.unpack_many(raw, now_ms=NOW_MS).values[0, 0] != 99.0


def test_without_a_ttl_no_vector_is_stale(project: Project) -> None:
    layout = VectorLayout(project.key_prefix, project.feature_defaults, None)
    row = project.feature_defaults + 1
    rows = layout.unpack_many([layout.pack(row, 0)], now_ms=NOW_MS)
    np.testing.assert_array_equal(rows.values[0], row)
    assert (rows.stale.tolist(), rows.missing.tolist()) == ([False], [False])


def test_a_vector_of_the_old_layout_reads_with_its_age_unknown(project: Project) -> None:
    """4n bytes, no time: written before vectors carried one. Its values are used, never
    stale (its age is unknown), and it says so."""
    layout = VectorLayout.of(project)
    row = np.arange(1, layout.width + 1, dtype=np.float32)
    legacy = row.astype("<f4").tobytes()
    assert len(legacy) == 4 * layout.width
    rows = layout.unpack_many([legacy, layout.pack(row * 2, NOW_MS), legacy], now_ms=NOW_MS)
    np.testing.assert_array_equal(rows.values[0], row)
    np.testing.assert_array_equal(rows.values[1], row * 2)
    np.testing.assert_array_equal(rows.values[2], row)
    assert rows.unknown_age.tolist() == [True, False, True]
    assert rows.stale.tolist() == [False, False, False]
    assert rows.missing.tolist() == [False, False, False]


@pytest.mark.parametrize("extra", [-4, -1, 1, 4, 7, 9, 12])
def test_a_value_of_any_other_size_reads_as_missing(project: Project, extra: int) -> None:
    layout = VectorLayout.of(project)
    good = layout.pack(project.feature_defaults + 2, NOW_MS)
    odd = (good * 2)[: len(good) + extra]
    rows = layout.unpack_many([odd, good, b""], now_ms=NOW_MS)
    np.testing.assert_array_equal(rows.values[0], project.feature_defaults)
    np.testing.assert_array_equal(rows.values[1], project.feature_defaults + 2)
    np.testing.assert_array_equal(rows.values[2], project.feature_defaults)
    assert rows.missing.tolist() == [True, False, True]
    assert not rows.stale.any() and not rows.unknown_age.any()


def test_unpack_of_nothing_and_the_outage_rows(project: Project) -> None:
    layout = VectorLayout.of(project)
    empty = layout.unpack_many([], now_ms=NOW_MS)
    assert empty.values.shape == (0, layout.width)
    down = FeatureRows.defaults(layout, 3)
    np.testing.assert_array_equal(down.values, np.tile(project.feature_defaults, (3, 1)))
    assert down.missing.all() and not down.stale.any() and not down.unknown_age.any()


def test_unpacked_values_are_a_copy_the_caller_may_write(project: Project) -> None:
    layout = VectorLayout.of(project)
    raw = [layout.pack(project.feature_defaults + 1, NOW_MS)]
    rows = layout.unpack_many(raw, now_ms=NOW_MS)
    rows.values[0, 0] = -99.0
    again = layout.unpack_many(raw, now_ms=NOW_MS)
    assert again.values[0, 0] == project.feature_defaults[0] + 1
    assert layout.defaults[0] == project.feature_defaults[0]

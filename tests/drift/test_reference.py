"""Reference distributions: bins that fit every column, counts on them, and a file round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drift.reference import N_BINS, SCORE, Reference
from drift.summary import RepositoryReferences
from tests.support.projects import FRAUD, sample_features, true_probability

COLUMNS = FRAUD.layout.columns
WATCHED = (*COLUMNS, SCORE)


@pytest.fixture(scope="module")
def reference() -> Reference:
    x = sample_features(np.random.default_rng(3), 20_000)
    return Reference.build(x, true_probability(x), inputs=COLUMNS)


def test_every_column_has_bins_and_all_rows_are_counted(reference: Reference) -> None:
    assert reference.names == WATCHED and reference.inputs == COLUMNS
    assert reference.counts.shape == (len(WATCHED), N_BINS)
    assert (reference.counts.sum(axis=1) == 20_000).all()
    for i in range(len(WATCHED)):
        assert 2 <= reference.bins_of(i) <= N_BINS
        assert not reference.counts[i, reference.bins_of(i) :].any()  # unused bins stay empty


def test_a_discrete_column_gets_one_bin_per_value(reference: Reference) -> None:
    column = WATCHED.index("is_foreign")
    assert reference.edges[column].tolist() == [0.5]
    share_foreign = reference.counts[column, 1] / 20_000
    assert 0.06 < share_foreign < 0.10  # drawn at 8 %


def test_deciles_split_a_continuous_column_evenly(reference: Reference) -> None:
    counts = reference.counts[WATCHED.index("session_seconds")]
    assert np.allclose(counts / counts.sum(), 0.1, atol=0.002)


def test_values_beyond_the_training_range_land_in_the_outer_bins(reference: Reference) -> None:
    column = WATCHED.index("amount")
    rows = np.zeros((2, len(WATCHED)))
    rows[:, column] = [-1e9, 1e9]
    assert reference.bin_index(rows)[:, column].tolist() == [0, reference.bins_of(column) - 1]


def test_histogram_counts_like_a_loop_over_rows(reference: Reference) -> None:
    x = sample_features(np.random.default_rng(4), 300)
    columns = np.column_stack([x, true_probability(x)])
    expected = np.zeros_like(reference.counts)
    for row in reference.bin_index(columns):
        for i, b in enumerate(row):
            expected[i, b] += 1
    assert (reference.histogram(columns) == expected).all()


def test_save_and_load_give_the_same_reference(reference: Reference, tmp_path: Path) -> None:
    reference.save(tmp_path)
    loaded = Reference.load(tmp_path)
    assert (loaded.counts == reference.counts).all()
    assert all((a == b).all() for a, b in zip(loaded.edges, reference.edges, strict=True))
    assert loaded.quantiles == reference.quantiles


def test_a_reference_of_other_columns_is_refused(reference: Reference, tmp_path: Path) -> None:
    data = reference.to_json()
    with pytest.raises(ValueError, match="do not end with the score"):
        Reference.from_json({**data, "names": data["names"][:-1]})
    with pytest.raises(ValueError, match="do not match its edges"):
        Reference.from_json({**data, "counts": data["counts"][:-1]})
    with pytest.raises(ValueError, match="a score each"):
        Reference.build(np.zeros((3, 4)), np.zeros(3), inputs=COLUMNS)
    # Where references are read for a project, one of other columns is no reference.
    (tmp_path / "m" / "1").mkdir(parents=True)
    reference.save(tmp_path / "m" / "1")
    found = RepositoryReferences(tmp_path, COLUMNS).get("m", "1")
    assert found is not None and (found.counts == reference.counts).all()
    assert RepositoryReferences(tmp_path, COLUMNS[:-1]).get("m", "1") is None
    assert RepositoryReferences(tmp_path, (*COLUMNS[1:], COLUMNS[0])).get("m", "1") is None

"""streams/report/compute.py: segment codes (quantile bins, top categories), the trend's
window choice over a PairStore fed with Columns, and the decision flip matrix / McNemar."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from streams.report.columns import Columns
from streams.report.compute import (
    MAX_CATEGORIES,
    MAX_TREND_ROWS,
    decisions,
    segment_codes,
    segments,
    trend,
)
from streams.report.pairs import PairStore, Segment
from streams.report.reading import iso
from streams.report.stats import wilson

T0 = 1_790_000_000_000
DECISIONS = ["approve", "review", "decline"]


def cols(scores: Sequence[float], decision: Sequence[int], seconds: Sequence[int]) -> Columns:
    n = len(scores)
    t = T0 + 1000 * np.asarray(seconds, dtype=np.int64)
    return Columns(
        key=np.arange(n, dtype=np.uint64),
        model=np.zeros(n, np.int16),
        score=np.asarray(scores, np.float64),
        decision=np.asarray(decision, np.int8),
        missing=np.zeros(n, bool),
        event_time=t,
        scored_at=t + 20,
        infer_ms=np.ones(n, np.float32),
        partition=np.zeros(n, np.int16),
        role=np.zeros(n, np.int8),
        stale=np.zeros(n, bool),
    )


def store(seconds: Sequence[int], p_score: Sequence[float] | None = None,
          s_score: Sequence[float] | None = None, p_dec: Sequence[int] | None = None,
          s_dec: Sequence[int] | None = None, chunks: int = 3) -> PairStore:  # fmt: skip
    """A PairStore fed in ``chunks`` pieces, as the join's sink would feed it."""
    n = len(seconds)
    p_score = np.full(n, 0.5) if p_score is None else np.asarray(p_score)
    s_score = np.full(n, 0.5) if s_score is None else np.asarray(s_score)
    p_dec = np.zeros(n, int) if p_dec is None else np.asarray(p_dec)
    s_dec = np.zeros(n, int) if s_dec is None else np.asarray(s_dec)
    pairs = PairStore(T0, None, [])
    for part in np.array_split(np.arange(n), chunks):
        pairs(cols(p_score[part], p_dec[part], np.asarray(seconds)[part]),
              cols(s_score[part], s_dec[part], np.asarray(seconds)[part]))  # fmt: skip
    assert len(pairs) == n
    return pairs


def test_numeric_segment_is_cut_at_quantiles() -> None:
    codes, names = segment_codes(Segment("amount", "event", True), np.arange(100.0))
    assert names == ["[0, 24.75)", "[24.75, 49.5)", "[49.5, 74.25)", "[74.25, 99]"]
    assert np.bincount(codes).tolist() == [25, 25, 25, 25]
    assert codes[[0, 24, 25, 49, 50, 74, 75, 99]].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("bins", [2, 4, 10])
def test_each_value_lies_in_its_named_bin(bins: int) -> None:
    rng = np.random.default_rng(bins)
    values = rng.lognormal(3, 1, 5000).astype(np.float32)
    codes, names = segment_codes(Segment("amount", "event", True, bins=bins), values)
    assert len(names) == bins and names[-1].endswith("]")
    assert all(n.startswith("[") and n.endswith(")") for n in names[:-1])
    counts = np.bincount(codes, minlength=bins)
    assert counts.sum() == 5000 and counts.min() >= 5000 // bins - 2
    lows, highs = [], []
    for name in names:
        low, high = name[1:-1].split(", ")
        lows.append(float(low))
        highs.append(float(high))
    assert lows[0] == pytest.approx(values.min(), rel=1e-3)
    assert highs[-1] == pytest.approx(values.max(), rel=1e-3)
    assert lows[1:] == highs[:-1]
    cuts = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    assert codes.tolist() == np.searchsorted(cuts, values, side="right").tolist()


def test_constant_values_fall_in_one_bin() -> None:
    codes, names = segment_codes(Segment("amount", "event", True), np.full(50, 5.0))
    (code,) = set(codes.tolist())
    assert names[code] == "[5, 5]"


def test_a_category_segment_keeps_its_names() -> None:
    values = np.array([2, 0, 2, 1, 2])
    codes, names = segment_codes(Segment("decision", "prediction", False, names=DECISIONS), values)
    assert names == DECISIONS and codes.tolist() == [2, 0, 2, 1, 2]
    codes, names = segment_codes(Segment("tier", "event", False, names=["a"]), values)
    assert names == ["a", "1", "2"] and codes.tolist() == [2, 0, 2, 1, 2]


@pytest.mark.parametrize("flag", ["features_stale", "features_missing"])
def test_the_stale_and_missing_flags_segment_as_false_and_true(flag: str) -> None:
    """The report slices by a prediction's freshness: scored on stale (or missing) features
    or not, each side with its own pairs and agreement."""
    n = 12
    flagged = np.arange(n) % 3 == 0  # 4 of 12
    primary = cols([0.2] * n, [0] * n, range(n))
    setattr(primary, "stale" if flag == "features_stale" else "missing", flagged)
    shadow_decisions = np.where(flagged, 1, 0)  # the shadow disagrees exactly on those
    shadow = cols([0.2] * n, shadow_decisions, range(n))
    pairs = PairStore(T0, None, [Segment(flag, "prediction", False)])
    pairs(primary, shadow)
    (table,) = segments(pairs, DECISIONS)
    assert table["field"] == flag and table["kind"] == "category"
    rows = {row["value"]: row for row in table["rows"]}
    assert sorted(rows) == ["false", "true"]
    assert (rows["true"]["n"], rows["false"]["n"]) == (4, 8)
    assert (rows["true"]["agreement"], rows["false"]["agreement"]) == (0.0, 1.0)


def test_many_categories_keep_the_most_common_and_lump_the_rest() -> None:
    k = MAX_CATEGORIES + 5
    names = [f"c{i}" for i in range(k)]
    values = np.repeat(np.arange(k), [2 * (i + 1) for i in range(k)])  # c24 the most common
    values = np.random.default_rng(1).permutation(values)
    codes, got = segment_codes(Segment("merchant", "event", False, names=names), values)
    kept = [f"c{i}" for i in range(k - 1, k - MAX_CATEGORIES, -1)]
    assert got == [*kept, "other"] and len(got) == MAX_CATEGORIES
    for code, name in enumerate(got[:-1]):
        assert (codes == code).tolist() == (values == names.index(name)).tolist()
    rest = k - MAX_CATEGORIES + 1
    assert (codes == MAX_CATEGORIES - 1).tolist() == (values < rest).tolist()


@pytest.mark.parametrize(
    ("first", "span", "window"),
    [
        (0, 1, 1),
        (0, 60, 1),
        (0, 61, 5),
        (500, 300, 5),
        (0, 301, 10),
        (0, 3600, 60),
        (0, 3601, 300),
        (7, 36_000, 1800),  # 600 s windows from the range start would need 61 rows
        (0, 86400, 1800),
        (0, 60 * 86400, 86400),
        (0, 90 * 86400, 86400),  # longer than 60 days: a day is the longest window
    ],
)
def test_trend_picks_the_shortest_nice_window(first: int, span: int, window: int) -> None:
    seconds = np.linspace(first, first + span - 1, 120).astype(np.int64)
    result = trend(store(seconds), iso)
    assert result["window_s"] == window


def test_trend_rows_count_agreement_and_delta_per_window() -> None:
    seconds = [0, 1, 2, 10, 11, 70]  # span 71 s: 5 s windows
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    s = [0.1, 0.3, 0.3, 0.2, 0.5, 0.9]
    p_dec = [0, 1, 2, 0, 1, 2]
    s_dec = [0, 1, 1, 0, 2, 2]
    result = trend(store(seconds, p, s, p_dec, s_dec), iso)
    assert result["window_s"] == 5
    rows = result["rows"]
    assert [r["start"] for r in rows] == [iso(T0), iso(T0 + 10_000), iso(T0 + 70_000)]
    assert [r["n"] for r in rows] == [3, 2, 1]
    assert [r["agreement"] for r in rows] == pytest.approx([2 / 3, 0.5, 1.0])
    assert [r["mean_delta"] for r in rows] == pytest.approx([0.1 / 3, -0.1, 0.3])
    assert [r["mean_abs_delta"] for r in rows] == pytest.approx([0.1 / 3, 0.1, 0.3])


@pytest.mark.parametrize("first", [0, 3, 299])
def test_trend_never_has_more_rows_than_the_limit(first: int) -> None:
    seconds = np.arange(first, first + 300)  # every second of a 300 s span has a pair
    result = trend(store(seconds), iso)
    assert result["window_s"] in (5, 10)  # 5 s windows fit the span if aligned with it
    assert sum(r["n"] for r in result["rows"]) == 300
    assert len(result["rows"]) <= MAX_TREND_ROWS


def test_decisions_flip_matrix_and_mcnemar() -> None:
    flips = [[5, 3, 1], [2, 2, 4], [1, 0, 1]]  # rows: primary, columns: shadow
    p_dec = [i for i in range(3) for j in range(3) for _ in range(flips[i][j])]
    s_dec = [j for i in range(3) for j in range(3) for _ in range(flips[i][j])]
    order = np.random.default_rng(2).permutation(len(p_dec))
    pairs = store(np.zeros(19, int), p_dec=np.array(p_dec)[order], s_dec=np.array(s_dec)[order])
    d = decisions(pairs, DECISIONS)
    assert d["flips"] == flips and d["n"] == 19 and d["agree"] == 8
    assert d["agreement"] == 8 / 19
    assert d["agreement_ci"] == list(wilson(8, 19))
    # b: only the primary flags (review/decline vs approve); c: only the shadow does
    assert (d["mcnemar"]["b"], d["mcnemar"]["c"]) == (3, 4)
    assert d["mcnemar"]["p_value"] == 1.0  # exact: 2 * P(X <= 3), X ~ Bin(7, 1/2), capped


def test_mcnemar_follows_the_deciders_default_not_a_name() -> None:
    # The decider numbers its default (below every threshold) first, whatever it is called:
    # "pass" flags nothing, "hold" and "block" flag.
    names = ["pass", "hold", "block"]
    p_dec = [0, 0, 0, 2, 1, 1, 2]  # pass→pass x3: no flips there
    s_dec = [0, 0, 0, 0, 0, 2, 1]  # block→pass, hold→pass, hold→block, ...
    d = decisions(store(np.zeros(7, int), p_dec=p_dec, s_dec=s_dec), names)
    assert d["flips"][0][0] == 3 and d["agree"] == 3
    assert (d["mcnemar"]["b"], d["mcnemar"]["c"]) == (2, 0)


def test_decisions_of_no_pairs() -> None:
    d = decisions(PairStore(T0, None, []), DECISIONS)
    assert d["n"] == 0 and d["agreement"] is None and d["agreement_ci"] is None
    assert d["flips"] == [[0] * 3] * 3

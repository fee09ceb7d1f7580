"""streams/report/join.py: ShadowJoin driven with hand-built Columns chunks: every pair is
joined once whatever the order, partners that never come and duplicates are counted, other
models and records out of the window are set aside, and pending is bounded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from streams.report.columns import Columns
from streams.report.join import PRIMARY, SHADOW, ShadowJoin
from streams.report.pairs import PairStore
from streams.report.reading import TimeRange

P_MODEL, S_MODEL, OTHER_MODEL = 3, 5, 9
T0 = 1_790_000_000_000
WINDOW = TimeRange(T0, T0 + 3_600_000)


def cols(keys: Sequence[int], side: int, times: Sequence[int] | None = None,
         model: int | None = None) -> Columns:  # fmt: skip
    """Records of ``side`` whose fields derive from their key (so rows can be checked)."""
    k = np.asarray(keys, dtype=np.uint64)
    n = len(k)
    t = T0 + 1000 * k.astype(np.int64) if times is None else np.asarray(times, np.int64)
    model = (P_MODEL if side == PRIMARY else S_MODEL) if model is None else model
    return Columns(
        key=k,
        model=np.full(n, model, np.int16),
        score=k.astype(np.float64) + (0.25 if side == SHADOW else 0.0),
        decision=(k % 3).astype(np.int8),
        missing=k % 2 == 0,
        event_time=t,
        scored_at=t + 7,
        infer_ms=np.full(n, 1.0 + side, np.float32),
        partition=(k % 4).astype(np.int16),
        role=np.full(n, 2 if side == SHADOW else 0, np.int8),
        stale=k % 5 == 0,
    )


class Sink:
    def __init__(self) -> None:
        self.pairs: list[tuple[Columns, Columns]] = []

    def __call__(self, primary: Columns, shadow: Columns) -> None:
        self.pairs.append((primary, shadow))

    def keys(self) -> list[int]:
        return [k for p, _ in self.pairs for k in p.key.tolist()]

    def check_aligned(self) -> None:
        for p, s in self.pairs:
            assert len(p) == len(s)
            assert p.key.tolist() == s.key.tolist()
            assert (p.model == P_MODEL).all() and (s.model == S_MODEL).all()
            assert (s.score - p.score == 0.25).all()  # whole rows, not just keys
            assert p.event_time.tolist() == s.event_time.tolist()
            assert (p.infer_ms == 1).all() and (s.infer_ms == 2).all()


def join(**kwargs: int) -> tuple[ShadowJoin, Sink]:
    sink = Sink()
    return ShadowJoin(WINDOW, (P_MODEL, S_MODEL), sink, **kwargs), sink


def add(j: ShadowJoin, side: int, c: Columns) -> None:
    """As the report does: the clock is the latest event time that side has read."""
    j.add(side, c, max(j.clocks[side], int(c.event_time.max(initial=j.clocks[side]))))


def chunks(
    keys: np.ndarray, side: int, size: int, rng: np.random.Generator | None
) -> list[Columns]:
    out = []
    for at in range(0, len(keys), size):
        part = keys[at : at + size]
        out.append(cols(rng.permutation(part) if rng is not None else part, side))
    return out


@pytest.mark.parametrize("order", ["primary_first", "shadow_first", "alternating", "shuffled"])
def test_every_pair_is_joined_once_whatever_the_order(order: str) -> None:
    rng = np.random.default_rng(1)
    keys = np.arange(1, 601, dtype=np.uint64)  # 600 s of event time, grace 60 s
    shuffle = rng if order == "shuffled" else None
    p_chunks = chunks(keys, PRIMARY, 37, shuffle)
    s_chunks = chunks(keys, SHADOW, 53, shuffle)
    j, sink = join()
    if order == "primary_first":
        steps = [(PRIMARY, c) for c in p_chunks] + [(SHADOW, c) for c in s_chunks]
    elif order == "shadow_first":
        steps = [(SHADOW, c) for c in s_chunks] + [(PRIMARY, c) for c in p_chunks]
    else:
        steps = []
        for i in range(max(len(p_chunks), len(s_chunks))):
            steps += [(PRIMARY, c) for c in p_chunks[i : i + 1]]
            steps += [(SHADOW, c) for c in s_chunks[i : i + 1]]
    for side, c in steps:
        add(j, side, c)
    cov = j.finish()
    sink.check_aligned()
    assert sorted(sink.keys()) == keys.tolist()
    assert cov.joined == 600 and cov.records == [600, 600]
    assert cov.only == [0, 0] and cov.duplicates == [0, 0] and cov.at_bound == [0, 0]


def test_a_missing_partner_is_given_up_once_the_other_clock_passes_it_by_the_grace() -> None:
    j, sink = join(grace_ms=10_000)
    add(j, PRIMARY, cols([1, 2, 3], PRIMARY))  # event times T0 + 1 s, 2 s, 3 s
    add(j, SHADOW, cols([1, 3], SHADOW))
    assert j.coverage.only == [0, 0]
    add(j, SHADOW, cols([12], SHADOW))  # shadow clock T0 + 12 s: key 2 is 10 s behind
    assert j.coverage.only == [0, 0]
    add(j, SHADOW, cols([13], SHADOW))  # 11 s behind: its partner is not coming
    assert j.coverage.only == [1, 0]
    assert j.pending[PRIMARY] is not None and len(j.pending[PRIMARY]) == 0
    add(j, PRIMARY, cols([13], PRIMARY))
    cov = j.finish()  # shadow 12 never found its primary
    assert cov.only == [1, 1] and cov.joined == 3
    assert sorted(sink.keys()) == [1, 3, 13]
    sink.check_aligned()


def test_finish_counts_everything_still_pending() -> None:
    j, sink = join()
    add(j, PRIMARY, cols([1, 2, 3, 4], PRIMARY))
    add(j, SHADOW, cols([2, 5, 6], SHADOW))
    cov = j.finish()
    assert cov.joined == 1 and cov.only == [3, 2] and cov.duplicates == [0, 0]
    assert j.pending == [None, None]
    assert sink.keys() == [2]


def test_a_duplicate_in_one_chunk_is_counted_and_joined_once() -> None:
    j, sink = join()
    add(j, PRIMARY, cols([1, 2, 2, 3], PRIMARY))
    add(j, SHADOW, cols([3, 2, 1], SHADOW))
    cov = j.finish()
    assert cov.duplicates == [1, 0] and cov.joined == 3 and cov.only == [0, 0]
    assert sorted(sink.keys()) == [1, 2, 3]
    sink.check_aligned()


def test_a_copy_arriving_while_the_first_is_pending_is_a_duplicate() -> None:
    j, sink = join()
    add(j, SHADOW, cols([1, 2], SHADOW))
    add(j, SHADOW, cols([2, 3], SHADOW))
    add(j, PRIMARY, cols([1, 2, 3], PRIMARY))
    cov = j.finish()
    assert cov.duplicates == [0, 1] and cov.joined == 3 and cov.only == [0, 0]
    assert sorted(sink.keys()) == [1, 2, 3]
    sink.check_aligned()


def test_a_duplicate_in_one_chunk_whose_partner_is_pending_joins_that_partner() -> None:
    j, sink = join()
    add(j, SHADOW, cols([2, 7, 8, 9], SHADOW))
    add(j, PRIMARY, cols([2, 2, 5], PRIMARY))
    sink.check_aligned()  # primary 2 with shadow 2, not with another shadow record
    assert sink.keys() == [2]
    assert sorted(j.pending[SHADOW].key.tolist()) == [7, 8, 9]
    cov = j.finish()
    assert cov.duplicates == [1, 0] and cov.only == [1, 3] and cov.joined == 1


def test_a_redelivered_pair_is_counted_as_duplicates_and_not_emitted_again() -> None:
    j, sink = join()
    add(j, PRIMARY, cols([1, 2, 3], PRIMARY))
    add(j, SHADOW, cols([1, 2, 3], SHADOW))
    assert j.coverage.joined == 3
    add(j, PRIMARY, cols([2, 3], PRIMARY))  # both copies of pairs 2 and 3 come again
    add(j, SHADOW, cols([3, 2, 4], SHADOW))
    add(j, PRIMARY, cols([4], PRIMARY))
    cov = j.finish()
    assert cov.joined == 4 and cov.duplicates == [2, 2] and cov.only == [0, 0]
    assert sorted(sink.keys()) == [1, 2, 3, 4]
    sink.check_aligned()


def test_a_redelivered_pair_alone_in_its_chunk_reaches_the_pair_store_safely() -> None:
    """The report's own sink: a chunk whose only matches are redelivered pairs."""
    pairs = PairStore(WINDOW.start_ms, None, [])
    j = ShadowJoin(WINDOW, (P_MODEL, S_MODEL), pairs)
    add(j, PRIMARY, cols([1, 2], PRIMARY))
    add(j, SHADOW, cols([1, 2], SHADOW))
    add(j, PRIMARY, cols([2], PRIMARY))
    add(j, SHADOW, cols([2], SHADOW))
    cov = j.finish()
    assert cov.joined == len(pairs) == 2 and cov.duplicates == [1, 1]


def test_a_redelivered_half_pair_is_a_duplicate_not_a_miss() -> None:
    j, sink = join()
    add(j, PRIMARY, cols([1, 2], PRIMARY))
    add(j, SHADOW, cols([1, 2], SHADOW))
    add(j, SHADOW, cols([2], SHADOW))  # only the shadow copy is redelivered
    cov = j.finish()
    assert cov.joined == 2 and cov.duplicates == [0, 1] and cov.only == [0, 0]
    assert sorted(sink.keys()) == [1, 2]


def test_other_models_are_counted_by_code_and_not_joined() -> None:
    j, sink = join()
    add(j, PRIMARY, Columns.concat([cols([1, 2], PRIMARY), cols([3, 4, 5], PRIMARY, model=7)]))
    add(j, SHADOW, cols([5], SHADOW, model=P_MODEL))  # the primary's model on the shadow topic
    add(j, SHADOW, Columns.concat([cols([1, 2], SHADOW), cols([3, 4], SHADOW, model=OTHER_MODEL)]))
    cov = j.finish()
    assert cov.other_models == {7: 3, OTHER_MODEL: 2, P_MODEL: 1}
    assert cov.joined == 2 and cov.records == [2, 2] and cov.only == [0, 0]
    assert sorted(sink.keys()) == [1, 2]


def test_records_outside_the_window_are_out_of_range() -> None:
    j, sink = join()
    times = [T0 - 1, T0, WINDOW.end_ms - 1, WINDOW.end_ms, WINDOW.end_ms + 5]
    add(j, PRIMARY, cols([1, 2, 3, 4, 5], PRIMARY, times))
    add(j, SHADOW, cols([6], SHADOW, [T0 - 10], model=OTHER_MODEL))  # out of range first
    add(j, SHADOW, cols([1, 2, 3, 4, 5], SHADOW, times))
    cov = j.finish()
    assert cov.out_of_range == [3, 4] and cov.records == [2, 2]
    assert cov.joined == 2 and sorted(sink.keys()) == [2, 3]
    assert cov.other_models == {}  # out of range is counted before the model is looked at


@pytest.mark.parametrize(
    "chunk",
    [cols([1, 2], SHADOW, model=OTHER_MODEL), cols([1], SHADOW, [T0 - 1]), cols([], SHADOW)],
    ids=["other-model", "out-of-range", "empty"],
)
def test_a_chunk_left_empty_with_nothing_pending_is_only_counted(chunk: Columns) -> None:
    """E.g. the shadow topic's first chunk holds only an older shadow's outputs (or records
    produced in the range about events before it, or values that did not decode)."""
    j, sink = join()
    add(j, SHADOW, chunk)
    add(j, PRIMARY, cols([1], PRIMARY))
    add(j, SHADOW, cols([1], SHADOW))
    cov = j.finish()
    assert cov.joined == 1 and cov.only == [0, 0] and sink.keys() == [1]
    assert cov.out_of_range[SHADOW] + sum(cov.other_models.values()) == len(chunk)


def test_pending_beyond_the_bound_is_evicted_oldest_first() -> None:
    j, sink = join(max_pending=5)
    rng = np.random.default_rng(2)
    keys = rng.permutation(np.arange(1, 9))
    add(j, PRIMARY, cols(keys, PRIMARY))  # 8 pending, times in key order
    assert j.coverage.at_bound == [3, 0] and j.coverage.only == [3, 0]
    assert sorted(j.pending[PRIMARY].key.tolist()) == [4, 5, 6, 7, 8]
    add(j, SHADOW, cols(np.arange(1, 9), SHADOW))
    cov = j.finish()
    assert sorted(sink.keys()) == [4, 5, 6, 7, 8]
    assert cov.joined == 5 and cov.only == [3, 3] and cov.at_bound == [3, 0]
    sink.check_aligned()


def test_pairs_reach_the_sink_with_every_field_of_their_row() -> None:
    j, sink = join()
    add(j, SHADOW, cols([9, 4, 6, 1], SHADOW))
    add(j, PRIMARY, cols([1, 6, 9, 4], PRIMARY))
    ((p, s),) = sink.pairs
    assert p.key.tolist() == s.key.tolist() and sorted(p.key.tolist()) == [1, 4, 6, 9]
    assert p.partition.tolist() == (p.key % 4).tolist() == s.partition.tolist()
    assert p.missing.tolist() == (p.key % 2 == 0).tolist()
    assert (s.scored_at - s.event_time == 7).all()
    sink.check_aligned()

"""The primary's and the shadow's outputs joined by event_id, in bounded memory.

A worker writes the primary and the shadow output of an event in the same batch, so the two
records sit close together in event time on their two topics. Each side keeps the records
still waiting for their partner in a pending buffer; a record is given up on (counted as
"primary only" or "shadow only") once the OTHER side's reader has passed its event time by
``grace_ms`` (its partner would have been read by then), or when a side's buffer outgrows
``max_pending`` (then the oldest are counted, not held). Matched keys are remembered for the
same grace, so a redelivered copy (at-least-once) is counted as a duplicate instead of being
joined twice. Everything is numpy per chunk; the only per-record Python is the set of keys
matched within the grace.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from streams.report.columns import Columns
from streams.report.reading import TimeRange

PRIMARY, SHADOW = 0, 1
Sink = Callable[[Columns, Columns], None]


@dataclass(slots=True)
class Coverage:
    records: list[int] = field(default_factory=lambda: [0, 0])  # in range, chosen model
    only: list[int] = field(default_factory=lambda: [0, 0])  # never found a partner
    duplicates: list[int] = field(default_factory=lambda: [0, 0])
    out_of_range: list[int] = field(default_factory=lambda: [0, 0])
    at_bound: list[int] = field(default_factory=lambda: [0, 0])  # evicted by max_pending
    other_models: Counter[int] = field(default_factory=Counter)  # model code → records
    joined: int = 0


class ShadowJoin:
    def __init__(
        self,
        window: TimeRange,
        models: tuple[int, int],
        sink: Sink,
        grace_ms: int = 60_000,
        max_pending: int = 1_000_000,
        max_recent: int = 200_000,
    ) -> None:
        self.window = window
        self.models = models
        self.sink = sink
        self.grace_ms = grace_ms
        self.max_pending = max_pending
        self.max_recent = max_recent
        self.coverage = Coverage()
        self.pending: list[Columns | None] = [None, None]
        self.clocks = [-(2**62), -(2**62)]
        self._recent: set[int] = set()
        self._recent_generations: deque[tuple[int, list[int]]] = deque()

    def add(self, side: int, cols: Columns, clock: int) -> None:
        """A chunk of ``side``'s records, and the event time that side's reader has reached."""
        cov = self.coverage
        in_range = (cols.event_time >= self.window.start_ms) & (
            cols.event_time < self.window.end_ms
        )
        chosen = in_range & (cols.model == self.models[side])
        if not chosen.all():
            cov.out_of_range[side] += int(len(cols) - in_range.sum())
            others = cols.model[in_range & ~chosen]
            for code, n in zip(*np.unique(others, return_counts=True), strict=True):
                cov.other_models[int(code)] += int(n)
            cols = cols.take(np.flatnonzero(chosen))
        cov.records[side] += len(cols)
        self.clocks[side] = max(self.clocks[side], clock)
        if not len(cols):
            self._evict()
            return
        mine, other = self.pending[side], self.pending[1 - side]
        empty = np.empty(0, np.uint64)
        keys = np.concatenate([cols.key, empty if mine is None else mine.key,
                               empty if other is None else other.key])  # fmt: skip
        n, q = len(cols), 0 if mine is None else len(mine)
        # One sort finds both duplicates and partners. Stable, so within a run of equal keys
        # the new records come first (in arrival order), then this side's pending, then the
        # other side's.
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
        run = np.cumsum(starts) - 1
        runs = int(run[-1]) + 1
        is_mine, is_other = (order >= n) & (order < n + q), order >= n + q
        pending_mine = np.bincount(run, weights=is_mine, minlength=runs) > 0
        pending_other = np.bincount(run, weights=is_other, minlength=runs) > 0
        partner_of_run = np.full(runs, -1, dtype=np.int64)  # keys are unique within pending
        partner_of_run[run[is_other]] = order[is_other] - n - q
        new = order < n
        duplicate = new & (~starts | pending_mine[run])
        matched = new & starts & pending_other[run] & ~pending_mine[run]
        if duplicate.any():
            cov.duplicates[side] += int(duplicate.sum())
        keep = np.ones(n, dtype=bool)
        keep[order[duplicate]] = False
        if matched.any():
            at = np.flatnonzero(matched)
            partners = partner_of_run[run[at]]
            new_rows = order[at]
            keep[new_rows] = False
            assert other is not None
            pair = (cols.take(new_rows), other.take(partners))
            self._emit(*(pair if side == PRIMARY else pair[::-1]))
            left = np.ones(len(other), dtype=bool)
            left[partners] = False
            self.pending[1 - side] = other.take(np.flatnonzero(left))
        rest = cols.take(np.flatnonzero(keep)) if not keep.all() else cols
        self.pending[side] = rest if mine is None else Columns.concat([mine, rest])
        self._evict()

    def finish(self) -> Coverage:
        """Every record still pending found no partner: count it."""
        for side in (PRIMARY, SHADOW):
            pending = self.pending[side]
            if pending is not None:
                self._count_unmatched(side, pending.key)
            self.pending[side] = None
        self._recent.clear()
        self._recent_generations.clear()
        return self.coverage

    def _emit(self, primary: Columns, shadow: Columns) -> None:
        keys = primary.key.tolist()
        seen = self._recent.intersection(keys) if self._recent else None
        if seen:  # both copies redelivered: a pair joined already
            again = np.isin(primary.key, np.fromiter(seen, np.uint64, len(seen)))
            self.coverage.duplicates[PRIMARY] += int(again.sum())
            self.coverage.duplicates[SHADOW] += int(again.sum())
            primary, shadow = primary.take(~again), shadow.take(~again)
            keys = primary.key.tolist()
            if not keys:
                return
        self.coverage.joined += len(primary)
        self._recent.update(keys)
        self._recent_generations.append((int(primary.event_time.max(initial=0)), keys))
        while len(self._recent) > self.max_recent and len(self._recent_generations) > 1:
            self._recent.difference_update(self._recent_generations.popleft()[1])
        self.sink(primary, shadow)

    def _evict(self) -> None:
        for side in (PRIMARY, SHADOW):
            pending = self.pending[side]
            if pending is None or not len(pending):
                continue
            # the other side has read past these records' time: their partners are not coming
            late = pending.event_time < self.clocks[1 - side] - self.grace_ms
            if len(pending) - late.sum() > self.max_pending:
                cut = np.sort(pending.event_time[~late])[-self.max_pending - 1]
                bound = ~late & (pending.event_time <= cut)
                self.coverage.at_bound[side] += int(bound.sum())
                late |= bound
            if late.any():
                self._count_unmatched(side, pending.key[late])
                self.pending[side] = pending.take(np.flatnonzero(~late))
        horizon = min(self.clocks) - self.grace_ms
        generations = self._recent_generations
        while generations and generations[0][0] < horizon:
            self._recent.difference_update(generations.popleft()[1])

    def _count_unmatched(self, side: int, keys: np.ndarray) -> None:
        # a redelivered copy whose partner was joined already is a duplicate, not a miss
        seen = len(self._recent.intersection(keys.tolist())) if self._recent else 0
        self.coverage.duplicates[side] += seen
        self.coverage.only[side] += len(keys) - seen

"""What the report keeps of each joined pair: 16 bytes and a little more per segment.

Ten million pairs must fit in 500 MB, so a pair is its two scores (float32 while every score
is a float32 value, as Triton's are; float64 otherwise: a score is compared exactly), two
decision codes, its event time in seconds from the range's start,
features_missing, its label when one is known (-1 otherwise) and a value per segment. The
event_id is not kept: labels and event fields are looked up while the pair streams past
(:class:`Lookup`, sorted keys and one ``searchsorted`` per chunk). Latencies go into
fixed log-spaced histograms; the scatter plot's sample is the pairs with the smallest
event_id hashes (uniform, and the same on every run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from streams.report import memory
from streams.report.columns import Columns
from streams.report.stats import BLOCK

LATENCY_EDGES = np.geomspace(0.01, 1e6, 161)  # ms: 10 µs to ~17 min, 20 bins per decade
SCATTER_POINTS = 2000
NO_LABEL = -1


@dataclass(slots=True)
class Lookup:
    """Values by event_id hash, sorted for ``searchsorted``; ``missing`` where not found."""

    keys: np.ndarray
    values: np.ndarray
    missing: float | int

    @classmethod
    def build(cls, keys: np.ndarray, values: np.ndarray, missing: float | int) -> Lookup:
        if not len(keys):
            return cls(keys, values, missing)
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        last = np.r_[keys[1:] != keys[:-1], True]  # a key given twice: the later value wins
        return cls(keys[last], values[last], missing)

    def get(self, keys: np.ndarray) -> np.ndarray:
        if not len(self.keys):
            return np.full(len(keys), self.missing, dtype=self.values.dtype)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = self.keys[at] == keys
        return np.where(found, self.values[at], self.missing).astype(self.values.dtype)


@dataclass(slots=True)
class Segment:
    """A field to slice the report by. ``source`` says where its value comes from; a
    numeric field is cut into ``bins`` quantile bins at the end, a category keeps codes
    into ``names``."""

    name: str
    source: str  # "event" or "prediction"
    numeric: bool
    bins: int = 4
    names: list[str] = field(default_factory=list)
    lookup: Lookup | None = None  # event fields: value by event_id


class _Growing:
    """A column appended chunk by chunk into blocks of BLOCK rows. Blocks that size are
    mapped memory, which goes back to the system when freed; ten thousand small chunks
    would stay in the heap, resident, after :meth:`array` copied them."""

    def __init__(self, dtype: type | str) -> None:
        self.dtype = np.dtype(dtype)
        self.blocks: list[np.ndarray] = []
        self.fill = BLOCK  # rows used in the last block: full, so the first add opens one
        self._whole: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=self.dtype)
        self._whole = None
        while len(values):
            if self.fill == BLOCK:
                self.blocks.append(np.empty(BLOCK, dtype=self.dtype))
                self.fill = 0
            take = min(BLOCK - self.fill, len(values))
            self.blocks[-1][self.fill : self.fill + take] = values[:take]
            self.fill += take
            values = values[take:]

    def __len__(self) -> int:
        return 0 if not self.blocks else (len(self.blocks) - 1) * BLOCK + self.fill

    def array(self) -> np.ndarray:
        """The whole column; each block is freed as soon as it is copied, so joining them
        costs one block more than the column, not twice the column."""
        if self._whole is None:
            out = np.empty(len(self), dtype=self.dtype)
            at = 0
            while self.blocks:
                block = self.blocks.pop(0)
                rows = min(BLOCK, len(out) - at)
                out[at : at + rows] = block[:rows]
                at += rows
            self.blocks, self.fill = [out], len(out)
            self._whole = out
        return self._whole


class _Scores(_Growing):
    """Scores kept as float32 while every one is a float32 value (a Triton output always
    is: 8 bytes a pair saved); the first that is not turns the column into float64."""

    def __init__(self) -> None:
        super().__init__(np.float32)

    def add(self, values: np.ndarray) -> None:
        if self.dtype == np.float32:
            narrow = values.astype(np.float32)
            if np.array_equal(narrow, values):
                super().add(narrow)
                return
            self.dtype = np.dtype(np.float64)
            self.blocks = [block.astype(np.float64) for block in self.blocks]
            self._whole = None
        super().add(values)


class PairStore:
    def __init__(self, start_ms: int, labels: Lookup | None, segments: Sequence[Segment]) -> None:
        self.start_ms = start_ms
        self.labels = labels
        self.segments = list(segments)
        self.columns = {
            "primary": _Scores(),
            "shadow": _Scores(),
            "primary_decision": _Growing(np.int8),
            "shadow_decision": _Growing(np.int8),
            "second": _Growing(np.int32),
            "missing": _Growing(np.bool_),
            "label": _Growing(np.int8),
        }
        self.segment_values = [
            _Growing(np.float32 if s.numeric else np.int32) for s in self.segments
        ]
        self.latency = {
            "primary": np.zeros(len(LATENCY_EDGES) - 1, np.int64),
            "shadow": np.zeros(len(LATENCY_EDGES) - 1, np.int64),
            "end_to_end": np.zeros(len(LATENCY_EDGES) - 1, np.int64),
        }
        self.latency_sums = dict.fromkeys(self.latency, 0.0)
        self.latency_max = dict.fromkeys(self.latency, 0.0)
        self._sample_keys = np.empty(0, np.uint64)
        self._sample = np.empty((0, 2), np.float64)

    def __call__(self, primary: Columns, shadow: Columns) -> None:
        c = self.columns
        c["primary"].add(primary.score)
        c["shadow"].add(shadow.score)
        c["primary_decision"].add(primary.decision)
        c["shadow_decision"].add(shadow.decision)
        c["second"].add((primary.event_time - self.start_ms) // 1000)
        c["missing"].add(primary.missing)
        labels = self.labels.get(primary.key) if self.labels else np.full(len(primary), NO_LABEL)
        c["label"].add(labels)
        for segment, values in zip(self.segments, self.segment_values, strict=True):
            values.add(self._segment_values(segment, primary))
        for name, ms in (
            ("primary", primary.infer_ms),
            ("shadow", shadow.infer_ms),
            ("end_to_end", (primary.scored_at - primary.event_time).astype(np.float64)),
        ):
            index = np.clip(
                np.searchsorted(LATENCY_EDGES, ms, "right") - 1, 0, len(LATENCY_EDGES) - 2
            )
            self.latency[name] += np.bincount(index, minlength=len(LATENCY_EDGES) - 1)
            self.latency_sums[name] += float(np.sum(ms, dtype=np.float64))
            self.latency_max[name] = max(self.latency_max[name], float(np.max(ms)))
        self._keep_sample(primary.key, primary.score, shadow.score)

    @staticmethod
    def _segment_values(segment: Segment, primary: Columns) -> np.ndarray:
        if segment.lookup is not None:
            return segment.lookup.get(primary.key)
        return {
            "decision": primary.decision,
            "features_missing": primary.missing,
            "features_stale": primary.stale,
            "score": primary.score,
        }[segment.name]

    def _keep_sample(self, keys: np.ndarray, p: np.ndarray, s: np.ndarray) -> None:
        keys = np.concatenate([self._sample_keys, keys])
        points = np.concatenate([self._sample, np.column_stack([p, s])])
        if len(keys) > SCATTER_POINTS:
            keep = np.argpartition(keys, SCATTER_POINTS)[:SCATTER_POINTS]
            keys, points = keys[keep], points[keep]
        self._sample_keys, self._sample = keys, points

    @property
    def sample(self) -> np.ndarray:
        """(n, 2): primary and shadow score of up to SCATTER_POINTS pairs."""
        return self._sample[np.argsort(self._sample_keys)]

    def __len__(self) -> int:
        return len(self.columns["primary"])

    def array(self, name: str) -> np.ndarray:
        return self.columns[name].array()

    def materialize(self) -> None:
        """Join every column's chunks now, then hand the chunks' freed heap back to the
        system (they were small blocks: glibc keeps those unless trimmed)."""
        for column in (*self.columns.values(), *self.segment_values):
            column.array()
        memory.trim()

    def segment_array(self, index: int) -> np.ndarray:
        return self.segment_values[index].array()

"""The scoring worker's half of drift monitoring: count each batch into window histograms.

The drift agent (drift/agent.py) never sees an event. Each scored batch is binned on the
reference bins of the primary version that scored it (drift/reference.py) and added into
per-window counts, all in numpy: one ``searchsorted`` per column and one ``bincount`` for
the whole batch, whatever the number of windows it spans. Every ``flush_s`` the worker
drains what it counted since the last flush as ``WindowSummary`` records
(schemas/window_summary.avsc), one per (model version, window) touched, and publishes them.
The agent adds the deltas up.

Each summary carries ``(producer, seq)``: a process-unique producer id and a number that
grows by one per summary. The agent applies each pair once, so a summary published twice
(a retried publish) is never counted twice.

Each also carries the producer's *watermark*: for every input partition it read from in the
last ``idle_close_s``, the latest event time read; the lowest of those. Partitions are read
at different speeds (a worker catching up reads one partition minutes of event time ahead
of another), so the latest event time overall would close windows whose events are still on
their way; the lowest one is a time before which every event has been counted. A partition
that went quiet stops holding it back after ``idle_close_s``.

A feature-view column counts only the events whose entity features were found and fresh: an
event scored with defaults is counted in ``features_missing`` (or ``features_stale``)
instead, each with its own detector, so that a feature-store outage reads as what it is and
not as a shift of every feature.

The columns are the project's input layout, then the score: a version's reference must
watch those very columns (else it is not monitored, with a log line). Decisions are counted
per decision index of the model's decider.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from drift.reference import FILE_NAME, SCORE, Reference
from drift.windows import WindowConfig
from infra.config import Section

log = logging.getLogger(__name__)


class MonitoringConfig(Section):
    """The scoring worker's part in drift monitoring."""

    env_prefix: ClassVar[str] = "DRIFT_"

    enabled: bool = Field(True, description="Count scored batches into drift window summaries.")
    flush_s: float = Field(1.0, gt=0, description="How often window summaries are published.")


_RECHECK_S = 10.0  # how long "this version has no reference" is believed
_PROGRESS_EVERY_S = 0.1


class RepositoryReferences:
    """References read from the model repository, once per version (a version never changes
    once exported); a version without one is asked again after a few seconds. Given the
    layout's ``columns``, a reference that watches other columns is no reference here."""

    def __init__(
        self, root: Path, columns: tuple[str, ...] | None = None, clock: Any = time.monotonic
    ) -> None:
        self.root = root
        self.watched = None if columns is None else (*columns, SCORE)
        self._clock = clock
        self._known: dict[tuple[str, str], Reference] = {}
        self._absent: dict[tuple[str, str], float] = {}

    def get(self, name: str, version: str) -> Reference | None:
        key = (name, version)
        ref = self._known.get(key)
        if ref is not None:
            return ref
        if self._clock() - self._absent.get(key, -_RECHECK_S) < _RECHECK_S:
            return None
        folder = self.root / name / version
        try:
            ref = Reference.load(folder)
        except FileNotFoundError:
            log.warning("no %s for %s:%s in %s: not monitored", FILE_NAME, name, version, self.root)
        except (ValueError, KeyError, OSError) as exc:
            log.error("unreadable reference of %s:%s: %s", name, version, exc)
        if ref is not None and self.watched is not None and ref.names != self.watched:
            log.error(
                "the reference of %s:%s watches %d columns, not the project's %d: not monitored",
                name, version, len(ref.names), len(self.watched),
            )  # fmt: skip
            ref = None
        if ref is None:
            self._absent[key] = self._clock()
            return None
        self._known[key] = ref
        return ref


@dataclass(slots=True)
class _Window:
    counts: np.ndarray
    decisions: np.ndarray
    events: int = 0
    features_missing: int = 0
    features_stale: int = 0
    max_event_time: int = 0


def producer_id() -> str:
    """Unique per process start: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class WindowAccumulator:
    """Counts batches into per-(model version, window) histograms until drained."""

    def __init__(
        self,
        references: RepositoryReferences,
        window: WindowConfig,
        producer: str | None = None,
        partitions: int | None = None,
        feature_columns: np.ndarray | None = None,
    ) -> None:
        self.references = references
        # The input columns that come from the feature store (schemas/project/layout.py).
        self.feature_columns = (
            np.empty(0, dtype=np.int64) if feature_columns is None else feature_columns
        )
        self.window = window
        self.producer = producer or producer_id()
        self.partitions = partitions  # of the events topic, when known: see watermark()
        self._seq = itertools.count(1)
        self._open: dict[tuple[str, str, int], _Window] = {}
        self._read: dict[int, tuple[int, float]] = {}  # partition → (latest event time, when)
        self._clock = time.monotonic
        self._started: float | None = None  # when the first partition's progress came
        self._progressed_at = -_PROGRESS_EVERY_S
        self.unmonitored = 0  # events of versions without a reference

    def add(
        self,
        model_name: str,
        model_version: str,
        times_ms: np.ndarray,
        x: np.ndarray,
        scores: np.ndarray,
        missing: np.ndarray,
        decisions: np.ndarray,
        partitions: np.ndarray | None = None,
        track: bool = True,
        stale: np.ndarray | None = None,
        n_decisions: int = 3,
    ) -> bool:
        """Count one batch: its input rows ``x`` (n, columns), the model's ``scores``, which
        rows had no entity features (``missing``) or stale ones (``stale``), each row's
        decision index (of ``n_decisions``) and input partition (None: one partition).
        ``track=False`` leaves the partitions' progress as it was (see
        :meth:`progress_due`). False when the version has no reference (not counted)."""
        if track:
            self._progress(times_ms, partitions)
        ref = self.references.get(model_name, model_version)
        if ref is None:
            self.unmonitored += len(x)
            return False
        n_bins, n_cols = ref.n_bins, len(ref.names)
        stride = n_cols * n_bins + 1  # the extra slot takes what is not counted
        # One watched column per row, so that each searchsorted reads contiguous memory and
        # the bins come out ready for one bincount.
        columns = np.empty((n_cols, len(x)), dtype=np.float64)
        columns[:-1] = x.T
        columns[-1] = np.reshape(scores, -1)
        flat = ref.bin_columns(columns)
        flat += self._offsets(n_cols, n_bins)
        stale = np.zeros(len(x), dtype=bool) if stale is None else stale
        defaulted = missing | stale if stale.any() else missing
        if len(self.feature_columns) and defaulted.any():
            flat[np.ix_(self.feature_columns, np.flatnonzero(defaulted))] = stride - 1
        times = np.asarray(times_ms, dtype=np.int64)
        rows, starts = self.window.assign(times)
        nd = max(n_decisions, int(decisions.max(initial=-1)) + 1)
        if len(rows) == len(times) and starts.min() == starts.max():
            # The common case: one tumbling window holds the whole batch; no regrouping.
            counts = np.bincount(flat.ravel(), minlength=stride)
            decided = np.bincount(decisions, minlength=nd)
            self._into(model_name, model_version, int(starts[0]), (n_cols, n_bins), counts,
                       len(times), int(missing.sum()), int(stale.sum()), decided,
                       int(times.max()))  # fmt: skip
            return True
        uniq, slot = np.unique(starts, return_inverse=True)
        flat, times = flat[:, rows], times[rows]
        missing, stale, decisions = missing[rows], stale[rows], decisions[rows]
        n_win = len(uniq)
        index = (slot[None, :] * stride + flat).ravel()
        all_counts = np.bincount(index, minlength=n_win * stride).reshape(n_win, stride)
        events = np.bincount(slot, minlength=n_win)
        absent = np.bincount(slot, weights=missing, minlength=n_win)
        old = np.bincount(slot, weights=stale, minlength=n_win)
        decided_by = np.bincount(slot * nd + decisions, minlength=n_win * nd).reshape(n_win, nd)
        for k, start in enumerate(uniq.tolist()):
            latest = int(times[slot == k].max())
            self._into(model_name, model_version, start, (n_cols, n_bins), all_counts[k],
                       int(events[k]), int(absent[k]), int(old[k]), decided_by[k],
                       latest)  # fmt: skip
        return True

    @staticmethod
    @functools.cache
    def _offsets(n_cols: int, n_bins: int) -> np.ndarray:
        """Where each column's bins start in a flat (columns x n_bins) count array."""
        return (np.arange(n_cols) * n_bins)[:, None]

    def _into(
        self,
        name: str,
        version: str,
        start: int,
        shape: tuple[int, int],
        counts: np.ndarray,
        events: int,
        missing: int,
        stale: int,
        decided: np.ndarray,
        latest: int,
    ) -> None:
        """Add one window's part of a batch (``counts`` with its trailing discard slot)."""
        w = self._open.get((name, version, start))
        if w is None:
            w = _Window(np.zeros(shape, np.int64), np.zeros(len(decided), np.int64))
            self._open[(name, version, start)] = w
        w.counts += counts[:-1].reshape(shape)
        w.events += events
        w.features_missing += missing
        w.features_stale += stale
        if len(decided) > len(w.decisions):
            w.decisions = np.pad(w.decisions, (0, len(decided) - len(w.decisions)))
        w.decisions[: len(decided)] += decided
        w.max_event_time = max(w.max_event_time, latest)

    def _progress(self, times_ms: np.ndarray, partitions: np.ndarray | None) -> None:
        if len(times_ms) == 0:
            return
        now = self._clock()
        times = np.asarray(times_ms, dtype=np.int64)
        seen: dict[int, int]
        if partitions is None or partitions.min() == partitions.max():
            seen = {0 if partitions is None else int(partitions[0]): int(times.max())}
        else:
            order = np.argsort(partitions, kind="stable")
            parts, ordered = partitions[order], times[order]
            starts = np.flatnonzero(np.r_[True, parts[1:] != parts[:-1]])
            maxima = np.maximum.reduceat(ordered, starts)
            seen = dict(zip(parts[starts].tolist(), maxima.tolist(), strict=True))
        if self._started is None and seen:
            self._started = now
        for partition, latest in seen.items():
            before = self._read.get(partition, (latest, now))[0]
            self._read[partition] = (max(before, latest), now)

    def progress_due(self) -> bool:
        """Whether the next batch should update the partitions' progress. Ten times a second
        is plenty for a watermark read once per flush, and spares the busy worker the work on
        most batches; a watermark that lags by a batch only closes windows a little later."""
        now = self._clock()
        if now - self._progressed_at < _PROGRESS_EVERY_S:
            return False
        self._progressed_at = now
        return True

    def watermark(self) -> int:
        """The lowest latest event time of the partitions read from lately (0: none yet).

        With ``partitions`` known, 0 too until every partition has been read from or
        ``idle_close_s`` has passed: a worker starting on a backlog reads its partitions
        unevenly, and a watermark over the ones it has heard from would close windows that a
        partition not yet read still feeds (their summaries would come late, their events
        lost to the drift windows). A partition still unheard of after that is taken to be
        another worker's."""
        now, idle = self._clock(), self.window.idle_close_s
        if self._started is None:
            return 0
        if self.partitions and len(self._read) < self.partitions and now - self._started < idle:
            return 0
        recent = [t for t, seen in self._read.values() if now - seen < idle]
        return min(recent, default=max((t for t, _ in self._read.values()), default=0))

    def drain(self) -> list[dict[str, Any]]:
        """WindowSummary records of everything counted since the last drain (then forgotten)."""
        size = self.window.size_ms
        watermark = self.watermark()
        out = []
        for (name, version, start), w in sorted(self._open.items()):
            out.append(
                {
                    "producer": self.producer,
                    "seq": next(self._seq),
                    "model_name": name,
                    "model_version": version,
                    "window_start": start,
                    "window_end": start + size,
                    "max_event_time": w.max_event_time,
                    "watermark": watermark,
                    "events": w.events,
                    "features_missing": w.features_missing,
                    "features_stale": w.features_stale,
                    "decisions": w.decisions.tolist(),
                    "n_bins": int(w.counts.shape[1]),
                    "counts": w.counts.ravel().tolist(),
                }
            )
        self._open.clear()
        return out

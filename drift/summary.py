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

An entity-feature column counts only the events whose entity features were found: an event
scored with defaults is counted in ``features_missing`` instead, which has its own detector,
so that a feature-store outage reads as what it is and not as a shift of eight features.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from drift.reference import FILE_NAME, WATCHED, Reference
from drift.windows import WindowConfig
from infra.config import Section
from schemas.features import ENTITY_FEATURE_NAMES, EVENT_FEATURE_NAMES

log = logging.getLogger(__name__)

_ENTITY_COLUMNS = slice(
    len(EVENT_FEATURE_NAMES), len(EVENT_FEATURE_NAMES) + len(ENTITY_FEATURE_NAMES)
)


class MonitoringConfig(Section):
    """The scoring worker's part in drift monitoring."""

    env_prefix: ClassVar[str] = "DRIFT_"

    enabled: bool = Field(True, description="Count scored batches into drift window summaries.")
    flush_s: float = Field(1.0, gt=0, description="How often window summaries are published.")


_N_COLS = len(WATCHED)
_RECHECK_S = 10.0  # how long "this version has no reference" is believed


class RepositoryReferences:
    """References read from the model repository, once per version (a version never changes
    once exported); a version without one is asked again after a few seconds."""

    def __init__(self, root: Path, clock: Any = time.monotonic) -> None:
        self.root = root
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
        if ref is None:
            self._absent[key] = self._clock()
            return None
        self._known[key] = ref
        return ref


@dataclass(slots=True)
class _Window:
    counts: np.ndarray
    events: int = 0
    features_missing: int = 0
    decisions: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))
    max_event_time: int = 0


def producer_id() -> str:
    """Unique per process start: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class WindowAccumulator:
    """Counts batches into per-(model version, window) histograms until drained."""

    def __init__(
        self, references: RepositoryReferences, window: WindowConfig, producer: str | None = None
    ) -> None:
        self.references = references
        self.window = window
        self.producer = producer or producer_id()
        self._seq = itertools.count(1)
        self._open: dict[tuple[str, str, int], _Window] = {}
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
    ) -> bool:
        """Count one batch: its feature rows ``x`` (n, features), the primary's ``scores``,
        which rows had no entity features, and each row's decision index (0 approve,
        1 review, 2 decline). False when the version has no reference (not counted)."""
        ref = self.references.get(model_name, model_version)
        if ref is None:
            self.unmonitored += len(x)
            return False
        n_bins = ref.n_bins
        stride = _N_COLS * n_bins + 1  # the extra slot takes what is not counted
        flat = ref.bin_index(np.column_stack([x, scores]))
        flat += np.arange(_N_COLS) * n_bins
        flat[missing, _ENTITY_COLUMNS] = stride - 1
        times = np.asarray(times_ms, dtype=np.int64)
        rows, starts = self.window.assign(times)
        uniq, slot = np.unique(starts, return_inverse=True)
        n_win = len(uniq)
        index = (slot[:, None] * stride + flat[rows]).ravel()
        counts = np.bincount(index, minlength=n_win * stride).reshape(n_win, stride)
        events = np.bincount(slot, minlength=n_win)
        absent = np.bincount(slot, weights=missing[rows], minlength=n_win)
        decided = np.bincount(slot * 3 + decisions[rows], minlength=n_win * 3).reshape(n_win, 3)
        latest = np.full(n_win, np.iinfo(np.int64).min)
        np.maximum.at(latest, slot, times[rows])
        for k, start in enumerate(uniq.tolist()):
            key = (model_name, model_version, start)
            w = self._open.get(key)
            if w is None:
                w = self._open[key] = _Window(np.zeros((_N_COLS, n_bins), np.int64))
            w.counts += counts[k, :-1].reshape(_N_COLS, n_bins)
            w.events += int(events[k])
            w.features_missing += int(absent[k])
            w.decisions += decided[k]
            w.max_event_time = max(w.max_event_time, int(latest[k]))
        return True

    def drain(self) -> list[dict[str, Any]]:
        """WindowSummary records of everything counted since the last drain (then forgotten)."""
        size = self.window.size_ms
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
                    "events": w.events,
                    "features_missing": w.features_missing,
                    "decisions": w.decisions.tolist(),
                    "n_bins": int(w.counts.shape[1]),
                    "counts": w.counts.ravel().tolist(),
                }
            )
        self._open.clear()
        return out

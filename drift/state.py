"""The drift agent's state and what it does with it, as plain code over mappings.

The agent (drift/agent.py) hands in Faust tables; tests hand in dicts. Three mappings:

    windows    "name:version:start" → one open window: summed counts, and per producer the
                                       last summary number applied (so none counts twice)
    versions   "name:version"        → watermark, the last closed window, the summaries'
                                       partition, wall time last seen, the pickled Monitor
    policies   "name"               → the pickled RetrainingPolicy of a model

Every value is rewritten whole on change (a Faust table writes its changelog on assignment,
not on mutation). A window closes once the version's watermark (the lowest of the
watermarks its workers report, drift/summary.py) passes the window's end plus the allowed
lateness, or when the version has been quiet for
``idle_close_s``; windows close in start order, each evaluated once by the version's
:class:`~drift.monitor.Monitor` against the version's reference distributions. A summary for
an already closed window is late: counted and dropped. Alert and request ids are derived
from what they are about, so a replay after a crash yields the same ids.
"""

from __future__ import annotations

import base64
import pickle
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from drift.detectors import DetectorConfig
from drift.monitor import Finding, Monitor, WindowCounts
from drift.policy import PolicyConfig, RetrainingPolicy, request_id
from drift.reference import Reference
from drift.windows import WindowConfig

_ALERT_NS = uuid.UUID("6f0b7f0e-4a53-4c8e-9d0e-2f5d3e1a7c11")


class Applied(StrEnum):
    """What became of one summary (a metric label, and a stable word in logs)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    LATE = "late"
    UNKNOWN_VERSION = "unknown-version"
    MISMATCH = "bins-mismatch"


class References(Protocol):
    def get(self, name: str, version: str) -> Reference | None: ...


@dataclass(slots=True)
class Closed:
    """One window closed: its counts, the alerts it raised and maybe a retraining request."""

    window: WindowCounts
    findings: list[Finding]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    request: dict[str, Any] | None = None
    statistics: dict[tuple[str, str], float] = field(default_factory=dict)


def _dump(obj: object) -> str:
    return base64.b64encode(pickle.dumps(obj)).decode()


def _load(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def alert_id(window: WindowCounts, finding: Finding) -> str:
    about = f"{window.model_name}:{window.model_version}:{window.start_ms}:{finding.feature}"
    return str(uuid.uuid5(_ALERT_NS, f"{about}:{finding.detector}"))


class DriftState:
    def __init__(
        self,
        windows: MutableMapping[str, Any],
        versions: MutableMapping[str, Any],
        policies: MutableMapping[str, Any],
        references: References,
        window: WindowConfig,
        detectors: DetectorConfig,
        policy: PolicyConfig,
    ) -> None:
        self.windows, self.versions, self.policies = windows, versions, policies
        self.references = references
        self.window, self.detectors, self.policy = window, detectors, policy

    def apply(self, summary: dict[str, Any], partition: int, now_s: float) -> Applied:
        """Merge one WindowSummary record (timestamps as epoch ms)."""
        name, version = summary["model_name"], summary["model_version"]
        ref = self.references.get(name, version)
        if ref is None:
            return Applied.UNKNOWN_VERSION
        counts = np.asarray(summary["counts"], dtype=np.int64)
        if summary["n_bins"] != ref.n_bins or counts.size != len(ref.names) * ref.n_bins:
            return Applied.MISMATCH
        vkey, start = f"{name}:{version}", int(summary["window_start"])
        info = self.versions.get(vkey) or {
            "watermark": 0, "closed_through": None, "partition": partition,
            "seen_at": now_s, "open": [], "monitor": _dump(Monitor(ref, self.detectors)),
        }  # fmt: skip
        info = {**info, "seen_at": now_s, "partition": partition}
        producers = dict(info.get("producers", {}))
        mark = max(int(summary["watermark"]), producers.get(summary["producer"], [0, 0])[0])
        producers[summary["producer"]] = [mark, now_s]
        info["producers"] = self._active(producers, now_s)
        info["watermark"] = max(info["watermark"], self._lowest(info["producers"]))
        if info["closed_through"] is not None and start <= info["closed_through"]:
            self.versions[vkey] = info
            return Applied.LATE
        wkey = f"{vkey}:{start}"
        current = self.windows.get(wkey) or {
            "start": start, "end": int(summary["window_end"]), "events": 0,
            "features_missing": 0, "features_stale": 0, "decisions": [],
            "counts": [0] * counts.size, "applied": {},
        }  # fmt: skip
        producer, seq = summary["producer"], int(summary["seq"])
        if current["applied"].get(producer, 0) >= seq:
            self.versions[vkey] = info
            return Applied.DUPLICATE
        self.windows[wkey] = {
            **current,
            "events": current["events"] + int(summary["events"]),
            "features_missing": current["features_missing"] + int(summary["features_missing"]),
            "features_stale": current.get("features_stale", 0)
            + int(summary.get("features_stale", 0)),
            "decisions": _added(current["decisions"], summary["decisions"]),
            "counts": (np.asarray(current["counts"], np.int64) + counts).tolist(),
            "applied": {**current["applied"], producer: seq},
        }
        if start not in info["open"]:
            info["open"] = sorted([*info["open"], start])
        self.versions[vkey] = info
        return Applied.APPLIED

    def describe_late(self, summary: dict[str, Any]) -> str:
        """One line on a late summary: its window, and how far its version has closed."""
        info = self.versions.get(f"{summary['model_name']}:{summary['model_version']}", {})
        return (
            f"{summary['model_name']}:{summary['model_version']} window {summary['window_start']}"
            f" ({summary['events']} events, from {summary['producer']} #{summary['seq']},"
            f" its watermark {summary['watermark']}); windows closed through"
            f" {info.get('closed_through')}, version watermark {info.get('watermark')}"
        )

    def _active(self, producers: dict[str, list[float]], now_s: float) -> dict[str, list[float]]:
        """The producers heard from within ``idle_close_s``: a worker that stopped (or moved
        to other partitions) stops holding the watermark back."""
        idle = self.window.idle_close_s
        return {p: v for p, v in producers.items() if now_s - v[1] < idle}

    @staticmethod
    def _lowest(producers: dict[str, list[float]]) -> int:
        return int(min((mark for mark, _ in producers.values()), default=0))

    def quiet_versions(self, now_s: float) -> list[tuple[str, int]]:
        """(version key, partition) of versions with open windows and no summary for
        ``idle_close_s``: the agent sends each a tick so its windows close (a Faust table
        can only change while the agent handles a message)."""
        return [
            (key, info["partition"])
            for key, info in list(self.versions.items())
            if self.is_quiet(key, now_s)
        ]

    def is_quiet(self, vkey: str, now_s: float) -> bool:
        """Open windows, and no summary for ``idle_close_s``. Asked again when a tick arrives:
        an agent that fell behind its input sends ticks for versions whose summaries are
        still queued before the tick, and those must not close the windows they fill."""
        info = self.versions.get(vkey)
        return bool(info and info["open"] and now_s - info["seen_at"] >= self.window.idle_close_s)

    def close_due(self, vkey: str, now_s: float, everything: bool = False) -> list[Closed]:
        """Close, in start order, the windows of ``vkey`` the watermark has passed (or all of
        them when ``everything``: the version went quiet)."""
        info = self.versions.get(vkey)
        if not info or not info["open"]:
            return []
        name, version = vkey.rsplit(":", 1)
        due = [
            s for s in info["open"] if everything or self.window.closes_at(s) <= info["watermark"]
        ]
        if not due:
            return []
        monitor: Monitor = _load(info["monitor"])
        policy: RetrainingPolicy = (
            _load(self.policies[name]) if name in self.policies else RetrainingPolicy(self.policy)
        )
        closed = []
        for start in due:
            data = self.windows.pop(f"{vkey}:{start}", None)
            if data is None:
                continue
            window = WindowCounts(
                name, version, start, data["end"], data["events"], data["features_missing"],
                tuple(data["decisions"]),
                np.asarray(data["counts"], np.int64).reshape(len(monitor.reference.names), -1),
                data.get("features_stale", 0),
            )  # fmt: skip
            findings = monitor.evaluate(window)
            judged = window.events >= self.detectors.min_window_events
            result = Closed(window, findings, statistics=dict(monitor.last) if judged else {})
            result.alerts = [self._alert(window, f, now_s) for f in findings]
            pairs = zip(result.alerts, findings, strict=True)
            worthy = [alert["alert_id"] for alert, f in pairs if f.retrain]
            trigger = policy.observe(start, window.events, worthy, now_s)
            if trigger is not None:
                result.request = {
                    "request_id": request_id(name, version, start),
                    "model_name": name,
                    "reason": f"drift: {len(trigger.alert_ids)} alert(s) in "
                    f"{self.policy.k} of the last {self.policy.m} windows of {vkey}",
                    "requested_by": "drift-agent",
                    "alert_ids": list(trigger.alert_ids),
                    "requested_at": int(now_s * 1000),
                    "from_time": None,
                    "to_time": None,
                }
            closed.append(result)
        self.versions[vkey] = {
            **info,
            "open": [s for s in info["open"] if s not in due],
            "closed_through": max([*due, info["closed_through"] or due[0]]),
            "monitor": _dump(monitor),
        }
        self.policies[name] = _dump(policy)
        return closed

    def open_windows(self, vkey: str) -> list[dict[str, Any]]:
        info = self.versions.get(vkey) or {"open": []}
        return [self.windows[f"{vkey}:{s}"] for s in info["open"] if f"{vkey}:{s}" in self.windows]

    @staticmethod
    def _alert(window: WindowCounts, finding: Finding, now_s: float) -> dict[str, Any]:
        return {
            "alert_id": alert_id(window, finding),
            "feature": finding.feature,
            "detector": finding.detector,
            "statistic": float(finding.statistic),
            "threshold": float(finding.threshold),
            "window_start": window.start_ms,
            "window_end": window.end_ms,
            "window_size": window.events,
            "model_name": window.model_name,
            "model_version": window.model_version,
            "evidence": {k: float(v) for k, v in finding.evidence.items()},
            "raised_at": int(now_s * 1000),
        }


def _added(current: list[int], more: list[int]) -> list[int]:
    """Decision counts added up, the shorter list padded (a model's deciders count one slot
    per decision; a summary never has fewer than the decisions it saw)."""
    width = max(len(current), len(more))
    padded = [*current, *[0] * (width - len(current))]
    return [a + int(b) for a, b in zip(padded, [*more, *[0] * (width - len(more))], strict=True)]

"""The model's error over labelled predictions, per model version, watched by river's DDM.

Fed by the label join (drift/labels.py): each :class:`~drift.labels.Match` is one 0/1 error.
State lives in a mapping the caller owns (a Faust table in the agent): per version the
pickled detector and the counts since its last alert. When the detector fires, an alert
(schemas/drift_alert.avsc) names the feature ``label_error`` and the detector ``ddm``; its
window spans the matches since the previous alert, by the wall time they were joined.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import MutableMapping
from typing import Any

from river.drift.binary import DDM

from drift.detectors import DetectorConfig
from drift.labels import Match, error_detector
from drift.state import _dump, _load

LABEL_ERROR = "label_error"
_NS = uuid.UUID("0c2f4d1e-8b7a-4f59-a1d3-5e6f7a8b9c0d")


class ErrorWatch:
    def __init__(self, table: MutableMapping[str, Any], config: DetectorConfig) -> None:
        self.table = table
        self.config = config

    def error_rate(self, name: str, version: str) -> float:
        entry = self.table.get(f"{name}:{version}")
        if not entry or not entry["total"]:
            return 0.0
        return float(entry["total_errors"] / entry["total"])

    def add(self, match: Match, at_s: float) -> dict[str, Any] | None:
        """Count one labelled prediction; the alert record when the error rate rose."""
        key = f"{match.model_name}:{match.model_version}"
        entry = self.table.get(key) or {
            "ddm": _dump(error_detector()), "matches": 0, "errors": 0, "since_s": at_s,
            "total": 0, "total_errors": 0, "alerts": 0,
        }  # fmt: skip
        detector = _load(entry["ddm"])
        detector.update(bool(match.error))
        entry = {
            **entry,
            "matches": entry["matches"] + 1,
            "errors": entry["errors"] + match.error,
            "total": entry["total"] + 1,
            "total_errors": entry["total_errors"] + match.error,
        }
        alert = None
        if detector.drift_detected:
            statistic, threshold = _ddm_levels(detector)
            alert = {
                "alert_id": str(uuid.uuid5(_NS, f"{key}:{entry['alerts']}")),
                "feature": LABEL_ERROR,
                "detector": "ddm",
                "statistic": statistic,
                "threshold": threshold,
                "window_start": int(entry["since_s"] * 1000),
                "window_end": int(at_s * 1000),
                "window_size": int(entry["matches"]),
                "model_name": match.model_name,
                "model_version": match.model_version,
                "evidence": {
                    "errors": float(entry["errors"]),
                    "matches": float(entry["matches"]),
                    "error_rate": entry["errors"] / entry["matches"],
                    "lowest_error_rate": float(detector._p_min or 0.0),
                },
                "raised_at": int(at_s * 1000),
            }
            entry = {**entry, "matches": 0, "errors": 0, "since_s": at_s,
                     "alerts": entry["alerts"] + 1}  # fmt: skip
        entry["ddm"] = _dump(detector)
        self.table[key] = entry
        return alert


def _ddm_levels(detector: DDM) -> tuple[float, float]:
    """What DDM compared when it fired: the error rate plus its standard deviation, against
    the lowest such level seen plus ``drift_threshold`` of its deviations. river keeps them
    private; the version is pinned in pyproject.toml."""
    p, n = detector._p.get(), detector._p.n
    level = p + math.sqrt(p * (1 - p) / n)
    p_min, s_min = detector._p_min or 0.0, detector._s_min or 0.0  # set once DDM is warm
    return float(level), float(p_min + detector.drift_threshold * s_min)

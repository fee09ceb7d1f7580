"""What `streamscore drift status` shows: each model version's current window against the
thresholds, as the drift agent last wrote it (to Redis, every ``status_every_s``).

The current window is the newest open one, still filling: its PSI per column is computed on
what it holds so far, against the reference of the version, beside the threshold a closed
window is held to.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from drift.detectors import DetectorConfig
from drift.state import DriftState
from drift.stats import psi


def snapshot(state: DriftState, detectors: DetectorConfig) -> dict[str, Any]:
    """JSON-able status of every version the agent knows."""
    versions: dict[str, Any] = {}
    for vkey, info in list(state.versions.items()):
        name, version = vkey.rsplit(":", 1)
        entry: dict[str, Any] = {
            "watermark": info["watermark"],
            "closed_through": info["closed_through"],
            "open_windows": len(info["open"]),
        }
        windows = state.open_windows(vkey)
        ref = state.references.get(name, version)
        if windows and ref is not None:
            current = windows[-1]
            counts = np.asarray(current["counts"], np.int64).reshape(len(ref.names), -1)
            entry["window"] = {
                "start": current["start"],
                "end": current["end"],
                "events": current["events"],
                "features_missing": current["features_missing"],
                "features_stale": current.get("features_stale", 0),
                "columns": {
                    column: {
                        "psi": psi(ref.counts[i], counts[i])[0] if counts[i].sum() else None,
                        "samples": int(counts[i].sum()),
                    }
                    for i, column in enumerate(ref.names)
                },
            }
        versions[vkey] = entry
    return {
        "written_at": time.time(),
        "psi_threshold": detectors.psi_threshold,
        "min_window_events": detectors.min_window_events,
        "versions": versions,
    }

"""The evaluation of one model version's CLOSED windows: what drifted, and can retraining help.

One :class:`Monitor` per model version, fed that version's closed windows in start order by
the drift agent (and by calibration). For a window of at least ``min_window_events`` events:

* each watched column (every model input, then the score) gets a PSI and a KS test against
  the version's reference; a column counted on fewer than ``min_window_events`` rows is
  skipped (entity features are counted only on rows whose features were in the store);
* ADWIN reads the stream of per-window score PSIs and reports a sustained RISE of it, the
  slow creep that each window alone keeps under ``psi_threshold``;
* Page-Hinkley reads the stream of per-window shares of events scored with default entity
  features, and a plain threshold judges each window's share; the same two watch the share
  of events whose features were stale (older than the feature view's ttl). All are
  operational findings (``retrain=False``): retraining cannot fix a feature store that lost
  its data, or a feature pipeline that stopped writing.

A smaller window yields no findings and feeds no detector. A monitor pickles (the agent keeps
``pickle.dumps(monitor)`` in a table) and a restored one behaves exactly as the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from drift.detectors import DetectorConfig, adwin, ks_detector, page_hinkley, psi_detector
from drift.reference import SCORE, Reference

FEATURES_MISSING = "features_missing"
FEATURES_STALE = "features_stale"


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """A closed window of one model version, as the agent merged it. ``counts`` is
    (watched columns, n_bins) on the reference's bins; feature-view columns count only the
    rows whose features were present and fresh."""

    model_name: str
    model_version: str
    start_ms: int
    end_ms: int
    events: int
    features_missing: int
    decisions: tuple[int, ...]
    counts: np.ndarray
    features_stale: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.features_missing <= self.events:
            raise ValueError("features_missing must be between 0 and events")
        if not 0 <= self.features_stale <= self.events:
            raise ValueError("features_stale must be between 0 and events")

    @property
    def missing_share(self) -> float:
        return self.features_missing / self.events if self.events else 0.0

    @property
    def stale_share(self) -> float:
        return self.features_stale / self.events if self.events else 0.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One detector's verdict on one column. ``threshold`` is the setting the statistic was
    held against (for ADWIN its ``delta``); ``retrain`` is False for operational findings
    that retraining cannot fix."""

    feature: str
    detector: str
    statistic: float
    threshold: float
    evidence: dict[str, float]
    retrain: bool


class Monitor:
    """Detectors of one model version, with the state they carry across its windows."""

    def __init__(self, reference: Reference, config: DetectorConfig):
        self.reference = reference
        self.config = config
        self._bins = [reference.bins_of(i) for i in range(len(reference.names))]
        columns = [reference.counts[i, :b] for i, b in enumerate(self._bins)]
        self._psi = [psi_detector(c, config) for c in columns]
        self._ks = [ks_detector(c, config) for c in columns]
        self._score_adwin = adwin(config)
        self._missing_ph = page_hinkley(config)
        self._stale_ph = page_hinkley(config)
        # (column, detector) → statistic of the last evaluated window, alert or not: the
        # agent's gauges and `drift status` show them beside the thresholds.
        self.last: dict[tuple[str, str], float] = {}

    def evaluate(self, window: WindowCounts) -> list[Finding]:
        """The findings of one closed window (feeds the stream detectors)."""
        if window.counts.shape != self.reference.counts.shape:
            raise ValueError(
                f"window counts {window.counts.shape} are not on the reference's bins "
                f"{self.reference.counts.shape}"
            )
        if window.events < self.config.min_window_events:
            return []
        self.last = {}
        self.last[(FEATURES_MISSING, "share")] = window.missing_share
        self.last[(FEATURES_STALE, "share")] = window.stale_share
        findings: list[Finding] = []
        for i, name in enumerate(self.reference.names):
            findings.extend(self._column(i, name, window.counts[i, : self._bins[i]]))
        findings.extend(self._missing(window))
        findings.extend(self._stale(window))
        return findings

    def _column(self, i: int, name: str, counts: np.ndarray) -> list[Finding]:
        if counts.sum() < self.config.min_window_events:
            return []
        out = []
        psi, ks = self._psi[i].update(counts), self._ks[i].update(counts)
        self.last[(name, "psi")], self.last[(name, "ks")] = psi.statistic, ks.statistic
        if psi.drift_detected:
            evidence = {f"bin_{k}": float(t) for k, t in enumerate(psi.terms)}
            evidence["samples"] = float(psi.samples)
            out.append(Finding(name, "psi", psi.statistic, psi.threshold, evidence, True))
        if ks.drift_detected:
            evidence = {"p_value": ks.p_value, "alpha": ks.alpha, "samples": float(ks.samples)}
            out.append(Finding(name, "ks", ks.statistic, ks.min_statistic, evidence, True))
        if name == SCORE:
            out.extend(self._creep(psi.statistic))
        return out

    def _creep(self, score_psi: float) -> list[Finding]:
        # ADWIN's bound assumes values in [0, 1]: PSI over a scale well under the alert level,
        # capped at 1, so that creep to a fraction of psi_threshold fills the range.
        threshold = self.config.adwin_psi_scale
        detector = self._score_adwin
        before = detector.estimation
        detector.update(min(score_psi / threshold, 1.0))
        # A detected FALL is the score settling back (or a retrained model): not drift.
        if not detector.drift_detected or detector.estimation <= before:
            return []
        evidence = {
            "window_psi": score_psi,
            "mean_psi_before": before * threshold,
            "windows": float(detector.width),
        }
        recent = detector.estimation * threshold
        return [Finding(SCORE, "adwin", recent, self.config.adwin_delta, evidence, True)]

    def _missing(self, window: WindowCounts) -> list[Finding]:
        evidence = {"features_missing": float(window.features_missing)}
        return self._share(FEATURES_MISSING, self._missing_ph, window.missing_share,
                           self.config.missing_share_threshold, window, evidence)  # fmt: skip

    def _stale(self, window: WindowCounts) -> list[Finding]:
        detector = getattr(self, "_stale_ph", None)
        if detector is None:  # a monitor pickled before stale shares were watched
            detector = self._stale_ph = page_hinkley(self.config)
        evidence = {"features_stale": float(window.features_stale)}
        return self._share(FEATURES_STALE, detector, window.stale_share,
                           self.config.stale_share_threshold, window, evidence)  # fmt: skip

    def _share(
        self, column: str, detector: Any, share: float, threshold: float,
        window: WindowCounts, counted: dict[str, float],
    ) -> list[Finding]:  # fmt: skip
        """A share of events watched twice: its trend (Page-Hinkley) and its level."""
        detector.update(share)
        evidence = {"events": float(window.events), **counted}
        out = []
        if detector.drift_detected:
            limit = self.config.page_hinkley_threshold
            out.append(Finding(column, "page_hinkley", share, limit, dict(evidence), False))
        if share >= threshold:
            out.append(Finding(column, "share", share, threshold, dict(evidence), False))
        return out

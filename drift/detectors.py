"""Detector settings, and the detectors a model version's monitor is made of.

:class:`DetectorConfig` holds every threshold of the drift agent's per-window evaluation
(drift/monitor.py), read from ``STREAMSCORE_DRIFT_*``. The factories below build each detector
from it, so that the monitor and the tests build them the same way:

* :func:`psi_detector` and :func:`ks_detector` judge one window's histogram of one column;
* :func:`adwin` watches the stream of per-window score PSIs, one value per closed window;
* :func:`page_hinkley` watches the stream of per-window shares of events scored with default
  entity features (features missing from the online store), one value per closed window.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field
from river.drift import ADWIN, PageHinkley

from drift.ks import KS
from drift.psi import PSI
from infra.config import Section


class DetectorConfig(Section):
    """Thresholds of the drift detectors run on each closed window of a model version."""

    env_prefix: ClassVar[str] = "DRIFT_"

    psi_threshold: float = Field(
        0.2, gt=0, description="PSI of a column at or above which a window is a drift."
    )
    ks_alpha: float = Field(
        0.001, gt=0, lt=1, description="KS p-value below which a column's window may be a drift."
    )
    ks_min_statistic: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Smallest KS statistic (CDF gap) that is a drift; a tiny significant gap "
        "is not.",
    )
    min_window_events: int = Field(
        500,
        ge=1,
        description="Windows (and columns) with fewer events are not judged: too noisy.",
    )
    adwin_delta: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="ADWIN confidence on the stream of per-window score PSIs (smaller = "
        "fewer false alarms, later detection; docs/drift.md has the calibration).",
    )
    adwin_psi_scale: float = Field(
        0.05,
        gt=0,
        description="Score PSI that ADWIN reads as 1 (its input is PSI / scale, capped at 1): "
        "the level of slow creep worth catching, well under psi_threshold.",
    )
    page_hinkley_threshold: float = Field(
        0.2,
        gt=0,
        description="Page-Hinkley threshold on the cumulative rise of the per-window share "
        "of events scored with default entity features.",
    )
    page_hinkley_delta: float = Field(
        0.005,
        ge=0,
        description="Rise of the missing-features share per window tolerated as noise.",
    )
    page_hinkley_min_instances: int = Field(
        5, ge=1, description="Windows Page-Hinkley sees before it may detect."
    )
    missing_share_threshold: float = Field(
        0.2,
        gt=0,
        le=1,
        description="Share of a window's events scored with default entity features that "
        "raises an (operational) alert.",
    )
    stale_share_threshold: float = Field(
        0.2,
        gt=0,
        le=1,
        description="Share of a window's events whose entity features were older than the "
        "feature view's ttl that raises an (operational) alert.",
    )


def psi_detector(reference: np.ndarray, config: DetectorConfig) -> PSI:
    return PSI(reference, config.psi_threshold, config.min_window_events)


def ks_detector(reference: np.ndarray, config: DetectorConfig) -> KS:
    return KS(reference, config.ks_alpha, config.ks_min_statistic, config.min_window_events)


def adwin(config: DetectorConfig) -> ADWIN:
    # clock=1: each value is a whole window (seconds of traffic), so checking only every 32
    # values, river's default, would delay a detection by minutes.
    return ADWIN(delta=config.adwin_delta, clock=1)


def page_hinkley(config: DetectorConfig) -> PageHinkley:
    # "up": a falling missing share is the store recovering, not something to alert on.
    return PageHinkley(
        min_instances=config.page_hinkley_min_instances,
        delta=config.page_hinkley_delta,
        threshold=config.page_hinkley_threshold,
        mode="up",
    )

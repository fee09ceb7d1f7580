"""The label error per model version: counted, and an alert when it rises."""

from __future__ import annotations

import numpy as np

from drift.detectors import DetectorConfig
from drift.error_watch import LABEL_ERROR, ErrorWatch
from drift.labels import Match
from drift.policy import PolicyConfig
from drift.reference import Reference
from drift.state import DriftState
from drift.status import snapshot
from drift.summary import WindowAccumulator
from drift.windows import WindowConfig
from tests.support.projects import FRAUD, sample_features, true_probability


def match(error: int) -> Match:
    return Match("m", "1", 0.9 if error else 0.1, 0, error)


def test_a_rising_error_rate_raises_one_alert_with_its_evidence() -> None:
    watch = ErrorWatch({}, DetectorConfig())
    rng = np.random.default_rng(0)
    alerts = [watch.add(match(int(rng.random() < 0.02)), float(i)) for i in range(3_000)]
    assert not any(alerts)  # a steady 2 % error rate
    rising = [watch.add(match(int(rng.random() < 0.3)), 3_000.0 + i) for i in range(1_000)]
    fired = [a for a in rising if a]
    assert fired, "DDM never saw the error rate rise from 2 % to 30 %"
    alert = fired[0]
    assert (alert["feature"], alert["detector"], alert["model_version"]) == (
        LABEL_ERROR,
        "ddm",
        "1",
    )
    assert alert["statistic"] > alert["threshold"] > alert["evidence"]["lowest_error_rate"]
    assert alert["window_size"] == alert["evidence"]["matches"]
    assert 0.02 < watch.error_rate("m", "1") < 0.3


def test_the_status_shows_the_open_window_against_the_threshold() -> None:
    x = sample_features(np.random.default_rng(1), 20_000)
    reference = Reference.build(x, true_probability(x), inputs=FRAUD.layout.columns)

    class Fixed:
        def get(self, name: str, version: str) -> Reference:
            return reference

    state = DriftState({}, {}, {}, Fixed(), WindowConfig(), DetectorConfig(), PolicyConfig())
    acc = WindowAccumulator(
        Fixed(), WindowConfig(), producer="w", feature_columns=FRAUD.layout.feature_columns
    )
    rows = sample_features(np.random.default_rng(2), 2_000)
    times = 1_767_225_600_000 + np.arange(2_000)
    acc.add(
        "m", "1", times, rows, true_probability(rows), np.zeros(2_000, bool), np.zeros(2_000, int)
    )
    for s in acc.drain():
        state.apply(s, 0, 0.0)
    status = snapshot(state, DetectorConfig())
    window = status["versions"]["m:1"]["window"]
    assert window["events"] == 2_000 and status["psi_threshold"] == 0.2
    assert 0 <= window["columns"]["amount"]["psi"] < 0.2
    assert window["columns"]["score"]["samples"] == 2_000

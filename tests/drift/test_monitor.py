"""A model version's monitor on windows of synthetic traffic: quiet when nothing moves, and
names what drifted, whether retraining can help, and survives pickling."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest

from drift.detectors import DetectorConfig
from drift.monitor import FEATURES_MISSING, FEATURES_STALE, Finding, Monitor, WindowCounts
from drift.reference import SCORE, Reference
from tests.support.projects import FEATURE_NAMES, FRAUD, sample_features, true_probability

COLUMNS = FRAUD.layout.columns
WATCHED = (*COLUMNS, SCORE)
ENTITY = FRAUD.layout.feature_columns.tolist()  # the feature view's columns
SESSION = COLUMNS.index("session_seconds")  # not an input of the ground truth
MERCHANT_RISK = COLUMNS.index("merchant_risk")
EVENTS = 5000
Shift = Callable[[np.ndarray], np.ndarray]


@pytest.fixture(scope="module")
def reference() -> Reference:
    x = sample_features(np.random.default_rng(0), 50_000)
    return Reference.build(x, true_probability(x), inputs=COLUMNS)


def _window(
    reference: Reference,
    rng: np.random.Generator,
    start_ms: int = 0,
    shift: Shift | None = None,
    missing: int = 0,
    events: int = EVENTS,
    stale: int = 0,
) -> WindowCounts:
    """A window of fresh traffic; the first ``missing`` rows were scored without entity
    features and the next ``stale`` with stale ones (defaults), so the entity columns count
    only the others (as the scoring worker does)."""
    x = sample_features(rng, events)
    if shift is not None:
        x = shift(x)
    columns = np.column_stack([x, true_probability(x)])
    counts = reference.histogram(columns)
    counts[ENTITY] = reference.histogram(columns[missing + stale :])[ENTITY]
    return WindowCounts("fraud", "1", start_ms, start_ms + 5000, events, missing, (0, 0, 0), counts,
                        features_stale=stale)  # fmt: skip


def _shifted(column: int, by: float) -> Shift:
    def shift(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        x[:, column] += by
        return x

    return shift


def test_stationary_traffic_raises_nothing(reference: Reference) -> None:
    monitor, rng = Monitor(reference, DetectorConfig()), np.random.default_rng(1)
    for i in range(30):
        assert monitor.evaluate(_window(reference, rng, i * 5000, missing=50)) == []


def test_a_shifted_feature_is_named_and_worth_retraining(reference: Reference) -> None:
    monitor, rng = Monitor(reference, DetectorConfig()), np.random.default_rng(2)
    std = float(sample_features(rng, 50_000)[:, SESSION].std())
    findings = monitor.evaluate(_window(reference, rng, shift=_shifted(SESSION, std)))
    assert {f.feature for f in findings} == {"session_seconds"}
    assert {f.detector for f in findings} == {"psi", "ks"}
    psi = next(f for f in findings if f.detector == "psi")
    assert psi.retrain and psi.statistic >= psi.threshold == 0.2
    assert psi.evidence["samples"] == EVENTS
    assert sum(v for k, v in psi.evidence.items() if k.startswith("bin_")) == pytest.approx(
        psi.statistic
    )


def test_missing_entity_features_are_operational_findings(reference: Reference) -> None:
    monitor, rng = Monitor(reference, DetectorConfig()), np.random.default_rng(3)
    seen: list[Finding] = []
    for i in range(10):
        assert monitor.evaluate(_window(reference, rng, i * 5000, missing=50)) == []
    for i in range(10, 13):
        seen += monitor.evaluate(_window(reference, rng, i * 5000, missing=2000))
    assert {(f.feature, f.detector, f.retrain) for f in seen} == {
        (FEATURES_MISSING, "share", False),
        (FEATURES_MISSING, "page_hinkley", False),
    }
    share = next(f for f in seen if f.detector == "share")
    assert share.statistic == pytest.approx(0.4)
    assert share.evidence == {"events": EVENTS, "features_missing": 2000}


def test_stale_entity_features_are_operational_findings(reference: Reference) -> None:
    monitor, rng = Monitor(reference, DetectorConfig()), np.random.default_rng(8)
    seen: list[Finding] = []
    for i in range(10):
        assert monitor.evaluate(_window(reference, rng, i * 5000, stale=50)) == []
    for i in range(10, 13):
        seen += monitor.evaluate(_window(reference, rng, i * 5000, stale=2000))
    assert {(f.feature, f.detector, f.retrain) for f in seen} == {
        (FEATURES_STALE, "share", False),
        (FEATURES_STALE, "page_hinkley", False),
    }
    share = next(f for f in seen if f.detector == "share")
    assert share.statistic == pytest.approx(0.4)
    assert share.evidence == {"events": EVENTS, "features_stale": 2000}
    assert monitor.last[(FEATURES_STALE, "share")] == pytest.approx(0.4)


def test_entity_columns_counted_on_too_few_rows_are_not_judged(reference: Reference) -> None:
    config = DetectorConfig(missing_share_threshold=1.0)
    monitor, rng = Monitor(reference, config), np.random.default_rng(4)
    moved = _shifted(ENTITY[0], 500.0)  # avg_amount_30d, far off; counted on only 300 rows
    findings = monitor.evaluate(_window(reference, rng, shift=moved, missing=EVENTS - 300))
    assert not {f.feature for f in findings} & set(FEATURE_NAMES)


def test_small_windows_yield_nothing_and_feed_nothing(reference: Reference) -> None:
    monitor, rng = Monitor(reference, DetectorConfig()), np.random.default_rng(5)
    monitor.evaluate(_window(reference, rng))
    before = pickle.dumps(monitor)
    small = _window(reference, rng, 5000, shift=_shifted(SESSION, 1e4), missing=400, events=400)
    assert monitor.evaluate(small) == []
    assert pickle.dumps(monitor) == before


def test_adwin_catches_score_creep_that_each_window_keeps_under_the_threshold(
    reference: Reference,
) -> None:
    monitor, rng = Monitor(reference, DetectorConfig()), np.random.default_rng(6)
    shifts = [0.0] * 30 + list(np.linspace(0.0, 0.25, 100))
    for i, by in enumerate(shifts):
        moved = _window(reference, rng, i * 5000, shift=_shifted(MERCHANT_RISK, by))
        creep = [f for f in monitor.evaluate(moved) if f.detector == "adwin"]
        if creep:
            break
    else:
        pytest.fail("ADWIN never saw the creep")
    assert i >= 30
    (finding,) = creep
    assert (finding.feature, finding.retrain) == ("score", True)
    assert finding.evidence["window_psi"] < 0.2
    assert finding.evidence["mean_psi_before"] < finding.statistic


def test_a_restored_monitor_behaves_as_the_original(reference: Reference) -> None:
    rng = np.random.default_rng(7)
    windows = [_window(reference, rng, i * 5000, missing=50) for i in range(12)]
    windows += [
        _window(reference, rng, i * 5000, shift=_shifted(SESSION, 300.0), missing=1500)
        for i in range(12, 20)
    ]
    original = Monitor(reference, DetectorConfig())
    for window in windows[:10]:
        original.evaluate(window)
    restored = pickle.loads(pickle.dumps(original))
    later = [original.evaluate(w) for w in windows[10:]]
    assert [restored.evaluate(w) for w in windows[10:]] == later
    assert any(later)


def test_windows_off_the_reference_bins_are_refused(reference: Reference) -> None:
    monitor = Monitor(reference, DetectorConfig())
    with pytest.raises(ValueError):
        monitor.evaluate(
            WindowCounts("m", "1", 0, 1, EVENTS, 0, (0, 0, 0), np.zeros((len(WATCHED), 3)))
        )
    with pytest.raises(ValueError):
        WindowCounts("m", "1", 0, 1, 10, 11, (0, 0, 0), reference.counts)
    with pytest.raises(ValueError):
        WindowCounts("m", "1", 0, 1, 10, 0, (0, 0, 0), reference.counts, features_stale=11)

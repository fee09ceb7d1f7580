"""Every drift detector keeps river's contract; PSI and KS compute what they should."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from river.drift.binary import HDDM_A

from drift.detectors import DetectorConfig, adwin, ks_detector, page_hinkley, psi_detector
from drift.ks import KS
from drift.labels import error_detector
from drift.psi import PSI
from drift.stats import kolmogorov_sf, ks, psi

EDGES = np.linspace(-2.0, 2.0, 9)  # 10 bins
SHIFT_AT = 40  # index of the first shifted input in every stream


def _histogram(rng: np.random.Generator, n: int, mean: float = 0.0) -> np.ndarray:
    return np.bincount(np.searchsorted(EDGES, rng.normal(mean, 1.0, n)), minlength=10)


REFERENCE = _histogram(np.random.default_rng(99), 100_000)


@dataclass(frozen=True)
class Case:
    """A detector, its inputs before and after a shift, and whether its update chains."""

    make: Callable[[], Any]
    before: Callable[[np.random.Generator], Any]
    after: Callable[[np.random.Generator], Any]
    n_before: int = SHIFT_AT
    n_after: int = 40

    def stream(self, seed: int, shifted: bool) -> list[Any]:
        rng = np.random.default_rng(seed)
        n = self.n_before + self.n_after
        late = self.after if shifted else self.before
        return [self.before(rng) if i < self.n_before else late(rng) for i in range(n)]


CONFIG = DetectorConfig()
CASES = {
    "psi": Case(
        lambda: psi_detector(REFERENCE, CONFIG),
        lambda rng: _histogram(rng, 2000),
        lambda rng: _histogram(rng, 2000, mean=0.6),
    ),
    "ks": Case(
        lambda: ks_detector(REFERENCE, CONFIG),
        lambda rng: _histogram(rng, 2000),
        lambda rng: _histogram(rng, 2000, mean=0.6),
    ),
    "adwin": Case(
        lambda: adwin(CONFIG),
        lambda rng: float(np.clip(rng.normal(0.05, 0.02), 0, 1)),
        lambda rng: float(np.clip(rng.normal(0.6, 0.05), 0, 1)),
        n_after=100,  # ADWIN's bound is loose on few values: one value a window takes dozens
    ),
    "page_hinkley": Case(
        lambda: page_hinkley(CONFIG),
        lambda rng: float(rng.binomial(2000, 0.01) / 2000),
        lambda rng: float(rng.binomial(2000, 0.15) / 2000),
    ),
    "ddm": Case(
        error_detector,
        lambda rng: bool(rng.random() < 0.05),
        lambda rng: bool(rng.random() < 0.25),
        n_before=5000,
        n_after=2000,
    ),
    "hddm_a": Case(
        HDDM_A,
        lambda rng: bool(rng.random() < 0.05),
        lambda rng: bool(rng.random() < 0.25),
        n_before=5000,
        n_after=2000,
    ),
}


def _run(detector: Any, inputs: list[Any]) -> list[bool]:
    return [state[0] for state in _states(detector, inputs)]


def _states(detector: Any, inputs: list[Any]) -> list[tuple[Any, ...]]:
    """What the detector shows after each input: its flag and any statistic it exposes."""
    states = []
    for x in inputs:
        result = detector.update(x)
        shown = ("statistic", "p_value", "estimation", "width", "warning_detected")
        states.append((detector.drift_detected, *(getattr(detector, a, None) for a in shown)))
        assert isinstance(detector.drift_detected, bool)
        # river 0.23's own detectors return None; ours chain as the brief's river style does.
        assert result is detector if isinstance(detector, PSI | KS) else result in (None, detector)
    return states


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_detection_on_a_stationary_stream(name: str, seed: int) -> None:
    case = CASES[name]
    assert not any(_run(case.make(), case.stream(seed, shifted=False)))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_detection_after_a_shift_and_not_before(name: str, seed: int) -> None:
    case = CASES[name]
    flags = _run(case.make(), case.stream(seed, shifted=True))
    assert any(flags[case.n_before :])
    assert not any(flags[: case.n_before])


@pytest.mark.parametrize("name", CASES)
def test_pickling_mid_stream_changes_nothing(name: str) -> None:
    case = CASES[name]
    inputs = case.stream(7, shifted=True)
    original = case.make()
    half = case.n_before - 5
    _run(original, inputs[:half])
    restored = pickle.loads(pickle.dumps(original))
    assert _states(restored, inputs[half:]) == _states(original, inputs[half:])


def test_psi_by_hand() -> None:
    value, terms = psi(np.array([50, 50]), np.array([25, 75]))
    expected = [(0.25 - 0.5) * np.log(0.25 / 0.5), (0.75 - 0.5) * np.log(0.75 / 0.5)]
    np.testing.assert_allclose(terms, expected)
    assert value == pytest.approx(sum(expected))
    assert psi(np.array([3, 7]), np.array([30, 70])) == (pytest.approx(0.0), pytest.approx([0, 0]))


def test_psi_floors_empty_bins_and_ignores_bins_empty_on_both_sides() -> None:
    value, terms = psi(np.array([100, 0, 0]), np.array([50, 50, 0]), floor=1e-4)
    assert terms[2] == 0.0
    assert terms[1] == pytest.approx((0.5 - 1e-4) * np.log(0.5 / 1e-4))
    assert np.isfinite(value)


def test_ks_by_hand() -> None:
    d, p = ks(np.array([40, 30, 20, 10]), np.array([10, 20, 30, 40]))
    assert d == pytest.approx(0.4)  # CDFs .4 .7 .9 vs .1 .3 .6
    assert p == pytest.approx(2 * np.exp(-2 * 50 * 0.4**2), rel=1e-6)  # n_eff = 100*100/200
    assert ks(np.array([1, 2, 3]), np.array([10, 20, 30])) == (pytest.approx(0.0), 1.0)


def test_kolmogorov_distribution_matches_scipy() -> None:
    from scipy import special  # installed with river, which needs it

    for x in np.linspace(0.0, 4.0, 401):
        assert kolmogorov_sf(float(x)) == pytest.approx(float(special.kolmogorov(x)), abs=1e-9)


def test_empty_windows_are_no_evidence() -> None:
    empty = np.zeros(4, np.int64)
    reference = np.array([1, 2, 3, 4])
    assert psi(reference, empty)[0] == 0.0
    assert ks(reference, empty) == (0.0, 1.0)
    detector = PSI(reference, min_samples=0).update(empty)
    assert (detector.statistic, detector.samples, detector.drift_detected) == (0.0, 0, False)
    assert not KS(reference, min_samples=0).update(empty).drift_detected


def test_small_windows_are_measured_but_never_flagged() -> None:
    detector = PSI(np.array([90, 10]), min_samples=500).update(np.array([10, 90]))
    assert detector.statistic > 1 and not detector.drift_detected


def test_ks_needs_both_significance_and_effect_size() -> None:
    reference = np.array([500_000, 500_000])
    tiny_gap = KS(reference).update(np.array([490_000, 510_000]))
    assert tiny_gap.p_value < 1e-9 and not tiny_gap.drift_detected
    few = KS(reference, min_samples=0).update(np.array([3, 7]))
    assert few.statistic >= 0.1 and few.p_value > 0.001 and not few.drift_detected


@pytest.mark.parametrize(
    "make",
    [
        lambda: PSI(REFERENCE, threshold=0),
        lambda: PSI(REFERENCE, min_samples=-1),
        lambda: PSI(np.array([0, 0])),
        lambda: PSI(np.array([1, -1, 3])),
        lambda: PSI(np.ones((2, 2))),
        lambda: KS(REFERENCE, alpha=0),
        lambda: KS(REFERENCE, alpha=1),
        lambda: KS(REFERENCE, min_statistic=1.5),
        lambda: KS(REFERENCE, min_samples=-1),
        lambda: psi(np.array([1, 2]), np.array([1, 2, 3])),
        lambda: psi(np.array([1, 2]), np.array([1, 2]), floor=0),
        lambda: ks(np.array([0, 0]), np.array([1, 2])),
        lambda: PSI(np.array([1, 2])).update(np.array([1, 2, 3])),
    ],
)
def test_bad_arguments_are_rejected(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()


def test_config_names_its_variables_and_describes_every_field() -> None:
    names = DetectorConfig.env_names()
    assert names["psi_threshold"] == "STREAMSCORE_DRIFT_PSI_THRESHOLD"
    assert all(field.description for field in DetectorConfig.model_fields.values())
    with pytest.raises(ValueError):
        DetectorConfig(ks_alpha=2)

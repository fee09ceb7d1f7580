"""Drift calibration on short streams: the same events as the simulator, a stationary stream
that requests nothing, a large shift found at once, and `streamscore drift calibrate`."""

from __future__ import annotations

import itertools
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from drift.calibration import Calibration, calibrate, epoch_ms, simulated_rows
from drift.calibration_table import first_after_onset, grid, render
from inference.repository import ModelRepository
from streams.cli import cli
from streams.simulation.simulator import Drift, EventSimulator, entity_feature_rows
from streams.simulation.starter import prepare
from tests.support.projects import (
    DEFAULTS,
    EVENT_FIELDS,
    FEATURE_NAMES,
    FRAUD,
    INPUT_WIDTH,
    N_EVENT,
)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    prepare(FRAUD, ModelRepository(root))  # the starter version, as `streamscore up` makes it
    return root


@pytest.fixture(scope="module")
def quick(repository: Path) -> Calibration:
    return calibrate(project=FRAUD, quick=True, repository=repository)


def test_rows_are_the_simulators_events_as_the_worker_reads_them() -> None:
    drift = Drift("hour_of_day", 700, "gradual", 600, 1.5, "sigma")  # an int feature
    sim = EventSimulator(FRAUD, seed=3, entities=50, drift=drift)
    entities = dict(entity_feature_rows(FRAUD, 3, 50))
    count = 2500  # not a whole number of simulator chunks
    events = [item.event for item in itertools.islice(sim.events(), count)]
    blocks = list(simulated_rows(FRAUD, 3, 50, drift, count, block=1000))
    times = np.concatenate([t for t, _, _ in blocks])
    rows = np.concatenate([x for _, x, _ in blocks])
    missing = np.concatenate([m for _, _, m in blocks])
    assert rows.shape == (count, INPUT_WIDTH) == (count, len(EVENT_FIELDS) + len(FEATURE_NAMES))
    assert rows.dtype == np.float32
    assert not missing.any()
    assert times.tolist() == [epoch_ms(e["event_time"].astimezone(UTC)) for e in events]
    expected = np.array(
        [
            [float(e[f]) for f in EVENT_FIELDS]
            + [entities[e["entity_id"]][f] for f in FEATURE_NAMES]
            for e in events
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(rows, expected)
    assert len({e["hour_of_day"] for e in events[1300:]} - set(range(24))) > 0  # it did shift
    # An outage from event 1,000 on: a share of the later events scored with the defaults.
    outage = (1000, 0.5, np.random.default_rng(5))
    blocks = list(simulated_rows(FRAUD, 3, 50, drift, count, block=1000, outage=outage))
    out_rows = np.concatenate([x for _, x, _ in blocks])
    out_missing = np.concatenate([m for _, _, m in blocks])
    assert not out_missing[:1000].any() and 0.4 < out_missing[1000:].mean() < 0.6
    np.testing.assert_array_equal(out_rows[~out_missing], expected[~out_missing])
    np.testing.assert_array_equal(out_rows[out_missing, :N_EVENT], expected[out_missing, :N_EVENT])
    assert (out_rows[out_missing, N_EVENT:] == DEFAULTS).all()


def test_stationary_stream_requests_nothing(quick: Calibration) -> None:
    (stationary,) = [s for s in quick.streams if s.scenario.name == "stationary"]
    assert stationary.scenario.events >= 100_000
    assert len(stationary.closed) == stationary.scenario.events // quick.window_events
    assert all(c.window.events == quick.window_events for c in stationary.closed)
    assert [c.request for c in stationary.closed if c.request is not None] == []
    assert [f for c in stationary.closed for f in c.findings if f.retrain] == []


def test_an_abrupt_two_sigma_shift_is_found_within_two_windows(quick: Calibration) -> None:
    (shift,) = [
        s for s in quick.streams if s.scenario.name == "abrupt 2\N{GREEK SMALL LETTER SIGMA}"
    ]
    named = [any(f.feature == "merchant_risk" for f in c.findings) for c in shift.closed]
    alert = first_after_onset(quick, shift, named)
    assert alert is not None and alert.windows <= 2
    requested = first_after_onset(quick, shift, [c.request is not None for c in shift.closed])
    assert requested is not None and requested.windows <= quick.policy.m
    onset = quick.onset_ms(shift.scenario)
    assert onset is not None
    assert not any(c.findings for c in shift.closed if c.window.end_ms <= onset)


def test_the_grid_replays_the_configured_thresholds_as_the_agent_ran_them(
    quick: Calibration,
) -> None:
    rows = {(r.detector, r.configured): r for r in grid(quick)}
    psi = rows["psi", True]
    assert psi.value == quick.detectors.psi_threshold and psi.false_windows == 0
    for result in quick.streams:
        if result.scenario.drift is None:
            continue
        hits = [any(f.feature == quick.feature and f.detector == "psi" for f in c.findings)
                for c in result.closed]  # fmt: skip
        assert psi.delays[result.scenario.name] == [first_after_onset(quick, result, hits)]
    text = render(quick, "streamscore drift calibrate --quick")
    assert "| stationary | 100,000 | 20 | 0: none |" in text
    assert "psi_threshold = **0.2** (set)" in text


def test_the_command_prints_and_writes_the_table(repository: Path, tmp_path: Path) -> None:
    out = tmp_path / "calibration.md"
    args = ["drift", "calibrate", "--quick", "--events", "20000", "--seed", "1"]
    result = CliRunner().invoke(
        cli, [*args, "--model-repository", str(repository), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = out.read_text()
    assert table.startswith(
        "Produced by `streamscore drift calibrate --events 20000 --quick --seed 1`"
    )
    assert "| stationary | 20,000 | 4 |" in table
    assert "| stationary | 20,000 | 4 |" in result.output


def test_a_feature_the_simulator_cannot_shift_is_refused(tmp_path: Path) -> None:
    args = ["drift", "calibrate", "--quick", "--feature", "avg_amount_30d"]
    result = CliRunner().invoke(cli, [*args, "--model-repository", str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot drift 'avg_amount_30d'" in result.output
    assert not any(tmp_path.iterdir())  # refused before any model was trained

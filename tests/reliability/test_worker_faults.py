"""Rows 1-4 of the fault table (RELIABILITY.md): the worker itself stopped, killed, doubled.

Every row runs a steady load of RATE events/s on both engines and ends with the verifier:
each input must end in exactly one prediction or dead letter.
"""

from __future__ import annotations

from tests.reliability.conftest import (
    COMMIT_INTERVAL_S,
    RATE,
    Scenario,
    after,
    killed_under_load,
    restart,
    scored,
    scoring,
    steady,
)
from tests.support.verifier import Progress


def test_row1_no_fault_loses_and_doubles_nothing(scenario: Scenario) -> None:
    worker = scenario.worker()
    load = steady(scenario, 3000)
    scoring(worker)
    scenario.settle()
    outcome = scenario.verify(load)
    print(f"[row 1 {scenario.engine}] {outcome}")
    assert (outcome.lost, outcome.duplicates, outcome.both) == ([], 0, 0), outcome
    assert len(outcome.predictions) == 3000
    assert scenario.lag() == 0


KILLS = 3
FAST_FAILOVER = {"session_timeout_s": 6}  # the broker's least: a dead worker costs 6 s, not 10


def test_row2_three_sigkills_lose_nothing_and_double_a_bounded_number_each(
    scenario: Scenario,
) -> None:
    """Each kill lands in steady state (caught up, then a commit interval and a half on).
    What it can double is what was scored since the last COMPLETED commit: the interval
    since the last commit began, and the one still on its way (a commit takes a round trip,
    through Faust's consumer thread on that engine): at most 2 x RATE x the interval."""
    load = killed_under_load(scenario, KILLS, **FAST_FAILOVER)
    outcome = scenario.verify(load)
    bound = KILLS * int(2 * RATE * COMMIT_INTERVAL_S)
    print(f"[row 2 {scenario.engine}] {outcome}; bound {bound}")
    assert outcome.lost == [], outcome
    assert outcome.duplicates <= bound, outcome


def test_row3_sigterm_loses_and_doubles_nothing(scenario: Scenario) -> None:
    worker = scenario.worker()
    load = steady(scenario, 4000)
    after(load, 1500)
    scoring(worker)
    worker.stop()
    assert worker.proc.returncode == 0
    scenario.worker()
    scenario.settle()
    outcome = scenario.verify(load)
    print(f"[row 3 {scenario.engine}] {outcome}")
    assert (outcome.lost, outcome.duplicates, outcome.both) == ([], 0, 0), outcome


def test_row4_rebalances_lose_nothing_and_no_partition_stalls(scenario: Scenario) -> None:
    steadfast = scenario.worker()
    restarted = scenario.worker()
    with Progress(scenario.bootstrap, scenario.group, scenario.topics.events) as progress:
        load = steady(scenario, 8000)
        for k in range(3):
            after(load, 1500 * (k + 1))
            scoring(restarted)
            restarted = restart(restarted, scenario, signal_kill=False)
        scenario.settle()
    outcome = scenario.verify(load)
    print(f"[row 4 {scenario.engine}] {outcome}; longest stall {progress.longest_stall_s:.1f} s")
    assert outcome.lost == [], outcome
    assert progress.longest_stall_s <= 60, progress.longest_stall_s
    assert scored(steadfast) > 0

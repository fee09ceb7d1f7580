"""Changing engine: a Faust worker and a librdkafka worker can never share a consumer group
(their assignment protocols differ), so the newcomer exits non-zero with one line instead of
idling for good; stopping one engine and starting the other goes on where it stopped."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from infra.settings import ServicesSettings
from tests.conftest import Child
from tests.reliability.conftest import RATE, make_scenario, scoring, steady

ENGINES = [("librdkafka", "faust"), ("faust", "librdkafka")]


@pytest.mark.parametrize(("holder", "newcomer"), ENGINES)
def test_a_worker_of_the_other_engine_exits_with_one_line(
    stack: ServicesSettings,
    start_worker: Callable[..., Child],
    topic_prefix: str,
    entities: list[str],
    holder: str,
    newcomer: str,
) -> None:
    scenario = make_scenario(holder, stack, start_worker, topic_prefix, entities)
    first = scenario.worker()
    load = steady(scenario, RATE * 4)
    scoring(first)  # it holds the group
    second = scenario.worker(engine=newcomer)
    try:
        code = second.proc.wait(60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the {newcomer} worker did not exit") from None
    lines = [line for line in second.log.read_text().splitlines() if line.strip()]
    print(f"[engine change {holder} -> {newcomer}] exit {code}: {lines[-1]}")
    assert code != 0
    assert f"held by {holder}-engine workers" in lines[-1]
    assert not any("Traceback" in line for line in lines)
    assert first.proc.poll() is None  # the holder goes on
    load.wait()
    scenario.settle()


def test_stop_one_engine_start_the_other_goes_on_from_the_committed_offsets(
    stack: ServicesSettings,
    start_worker: Callable[..., Child],
    topic_prefix: str,
    entities: list[str],
) -> None:
    scenario = make_scenario("faust", stack, start_worker, topic_prefix, entities)
    old = scenario.worker()
    load = steady(scenario, RATE * 3)
    scenario.settle()
    old.stop()
    log = old.log.read_text()
    # The leader topic is neither used nor looked for: no alarm for nothing in the log.
    assert "__assignor-__leader" not in log and "not found in cluster metadata" not in log
    scenario.worker(engine="librdkafka")
    load.send(RATE * 3, RATE)
    scenario.settle()
    outcome = scenario.verify(load)
    print(f"[engine change faust -> librdkafka, stop-the-world] {outcome}")
    assert (outcome.lost, outcome.duplicates, outcome.both) == ([], 0, 0), outcome

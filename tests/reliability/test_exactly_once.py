"""Row 2 again under ``processing_guarantee=exactly_once`` (librdkafka engine): three SIGKILLs
during the load, and a read_committed verifier that finds every input exactly once."""

from __future__ import annotations

from collections.abc import Callable

from infra.settings import ServicesSettings
from tests.conftest import Child
from tests.reliability.conftest import killed_under_load, make_scenario
from tests.reliability.test_worker_faults import FAST_FAILOVER, KILLS

EXACTLY_ONCE = {"processing_guarantee": "exactly_once", **FAST_FAILOVER}


def test_exactly_once_three_sigkills_leave_no_duplicate_for_a_read_committed_reader(
    stack: ServicesSettings,
    start_worker: Callable[..., Child],
    topic_prefix: str,
    entities: list[str],
) -> None:
    scenario = make_scenario("librdkafka", stack, start_worker, topic_prefix, entities)
    load = killed_under_load(scenario, KILLS, **EXACTLY_ONCE)
    outcome = scenario.verify(load, read_committed=True)
    print(f"[row 2 exactly_once librdkafka] {outcome}")
    assert (outcome.lost, outcome.duplicates, outcome.both) == ([], 0, 0), outcome
    # What the kills aborted is there for a read_uncommitted reader: the guarantee is the
    # transactions', not an absence of retries.
    uncommitted = scenario.verify(load)
    print(f"[row 2 exactly_once, read_uncommitted] {uncommitted}")
    assert uncommitted.lost == []

"""The fault suite's scenario: a worker (both engines), a steady load, a verifier.

Workers run with the production commit interval (1 s), so the duplicates a crash leaves are
those of a real deployment. Each scenario has its own topics and group (a random prefix).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import redis

from infra.config import merge_sections
from infra.settings import ServicesSettings
from streams.features.store import VectorLayout, load_sync
from streams.routing import ModelRef, Routing
from streams.topics import TopicNames
from tests.conftest import Child
from tests.support.kafka import create_topics
from tests.support.load import SteadyLoad
from tests.support.models import DEFAULT_MODEL, set_routing
from tests.support.projects import FRAUD, N_EVENT, sample_features
from tests.support.verifier import Outcome, committed_offsets, end_offsets, verify
from tests.support.waiting import metric, wait_for

RATE = 400  # events per second: what 2 shared cores carry with room for the faults
COMMIT_INTERVAL_S = 1.0  # the worker's default


@dataclass
class Scenario:
    engine: str
    stack: ServicesSettings
    entities: list[str]
    topics: TopicNames
    group: str
    starter: Callable[..., Child]
    defaults: dict[str, Any] = field(default_factory=dict)
    loads: list[SteadyLoad] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.stack.kafka_bootstrap

    def worker(self, **settings: Any) -> Child:
        return self.starter(**merge_sections(self.defaults, settings))  # type: ignore[no-any-return]

    def load(self, **options: Any) -> SteadyLoad:
        load = SteadyLoad(self.bootstrap, self.topics.events, self.entities, **options)
        self.loads.append(load)
        return load

    def lag(self) -> int:
        ends = end_offsets(self.bootstrap, self.topics.events)
        done = committed_offsets(self.bootstrap, self.group, self.topics.events, len(ends))
        return sum(max(end - done[p], 0) for p, end in ends.items())

    def settle(self, timeout_s: float = 60.0) -> None:
        """Every input's offset committed: the lag is back to 0."""
        for load in self.loads:
            load.wait()
        wait_for(lambda: self.lag() == 0, timeout_s, "the consumer lag to return to 0")

    def verify(self, load: SteadyLoad, read_committed: bool = False) -> Outcome:
        return verify(self.bootstrap, self.topics, load.snapshot(), read_committed=read_committed)

    def close(self) -> None:
        """Flush and drop the loads' producers while the broker still runs (a producer left
        to the garbage collector after the session's broker stopped only logs refusals)."""
        for load in self.loads:
            load.producer.flush(5)
        self.loads.clear()

    def caught_up(self, timeout_s: float = 60.0) -> None:
        """The group keeps up with the load: less than a commit interval's events behind."""
        limit = RATE * COMMIT_INTERVAL_S
        wait_for(lambda: self.lag() <= limit, timeout_s, "the worker to catch up with the load")


def scored(worker: Child) -> float:
    """Records the worker published so far (0 until it serves its metrics)."""
    try:
        return metric(worker.metrics(), "streamscore_events_out_total")
    except OSError:
        return 0.0


def scoring(worker: Child) -> None:
    """Wait until the worker publishes: it joined its group and scores."""
    wait_for(lambda: scored(worker) > 0, 60, "the worker to score")


def restart(worker: Child, scenario: Scenario, signal_kill: bool, **settings: Any) -> Child:
    """Stop ``worker`` (SIGKILL or SIGTERM) and start its like again at once."""
    worker.kill() if signal_kill else worker.stop()
    return scenario.worker(**settings)


def killed_under_load(scenario: Scenario, kills: int, **settings: Any) -> SteadyLoad:
    """A worker under a steady load, SIGKILLed ``kills`` times (each once it keeps up and a
    commit interval and a half on) and started again at once; the load then stops and the
    last worker finishes it. The load, for the verifier."""
    worker = scenario.worker(**settings)
    load = steady(scenario, RATE * 120)
    for _ in range(kills):
        scoring(worker)
        scenario.caught_up()
        time.sleep(1.5 * COMMIT_INTERVAL_S)
        worker = restart(worker, scenario, signal_kill=True, **settings)
    scenario.caught_up()
    load.stop()
    scenario.settle()
    return load


@pytest.fixture
def entities(stack: ServicesSettings) -> Iterator[list[str]]:
    rng = np.random.default_rng(5)
    ids = [f"acct-{uuid.uuid4().hex[:10]}" for _ in range(64)]
    vectors = {e: sample_features(rng, 1)[0, N_EVENT:] for e in ids}
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    load_sync(client, VectorLayout.of(FRAUD), vectors.items())
    yield ids
    client.close()


def make_scenario(
    engine: str,
    stack: ServicesSettings,
    start_worker: Callable[..., Child],
    prefix: str,
    entities: list[str],
) -> Scenario:
    """A scenario on topics and a group of its own (``prefix``), the starter model primary."""
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")))
    topics = TopicNames().prefixed(prefix)
    create_topics(stack.kafka_bootstrap, topics)
    defaults = {
        "engine": engine,
        "commit_interval_s": COMMIT_INTERVAL_S,
        "app_id": f"{prefix}-scorer",
        "topics": topics,
    }
    return Scenario(engine, stack, entities, topics, f"{prefix}-scorer", start_worker, defaults)


@pytest.fixture(params=["faust", "librdkafka"])
def scenario(
    request: pytest.FixtureRequest,
    stack: ServicesSettings,
    start_worker: Callable[..., Child],
    topic_prefix: str,
    entities: list[str],
) -> Iterator[Scenario]:
    found = make_scenario(request.param, stack, start_worker, topic_prefix, entities)
    yield found
    found.close()


@pytest.fixture
def both(
    stack: ServicesSettings,
    start_worker: Callable[..., Child],
    topic_prefix: str,
    entities: list[str],
) -> Iterator[list[Scenario]]:
    """Both engines side by side, each on its own topics and group, for faults of a shared
    service: one outage serves the two."""
    found = [
        make_scenario(engine, stack, start_worker, f"{topic_prefix}{engine[0]}", entities)
        for engine in ("faust", "librdkafka")
    ]
    yield found
    for scenario in found:
        scenario.close()


def steady(scenario: Scenario, n: int, **options: Any) -> SteadyLoad:
    load = scenario.load(**options)
    load.send(n, RATE)
    return load


def after(load: SteadyLoad, n: int, timeout_s: float = 60.0) -> None:
    """Wait until ``n`` events of ``load`` are produced."""
    deadline = time.monotonic() + timeout_s
    while load.sent < n:
        assert time.monotonic() < deadline, f"the load did not reach {n} events"
        time.sleep(0.05)

"""Rows 5, 6, 7 and 9 of the fault table (RELIABILITY.md): a service the worker needs fails.

Each fault is injected once with both engines running side by side (each on its own topics
and group, at RATE events/s each), so one outage serves the two. The outage lengths are the
table's; they are the fault, not a wait for something to happen.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from infra.kafka_server import KafkaServer
from infra.process import free_port
from infra.redis_server import RedisServer
from infra.settings import ServicesSettings, on_free_ports
from infra.triton_server import TritonServer
from streams.features.store import VectorLayout, load_sync
from streams.routing import ModelRef, Routing
from streams.simulation.starter import preparer
from tests.conftest import Child
from tests.reliability.conftest import RATE, Scenario, scoring, steady
from tests.support.load import SteadyLoad
from tests.support.models import DEFAULT_MODEL, set_routing
from tests.support.projects import FRAUD, N_EVENT, sample_features
from tests.support.proxy import LatencyProxy, delayed
from tests.support.verifier import committed_offsets, end_offsets
from tests.support.waiting import metric, wait_for

ERRORS = "streamscore_model_errors_total"
LONG = RATE * 300  # longer than any row: each row stops its loads when done


@pytest.fixture(scope="module")
def own_triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    """A Triton of this module's own (starter model only), to stop and to slow down."""
    server = TritonServer(on_free_ports(tmp_path_factory.mktemp("triton")), preparer(FRAUD))
    server.start()
    yield server
    server.stop()


def _start(both: list[Scenario], **settings: object) -> tuple[list[Child], list[SteadyLoad]]:
    workers = [s.worker(**settings) for s in both]
    loads = [steady(s, LONG) for s in both]
    for scenario, worker in zip(both, workers, strict=True):
        scoring(worker)
        scenario.caught_up()
    return workers, loads


def _finish(both: list[Scenario], loads: list[SteadyLoad], row: str) -> None:
    for scenario in both:
        scenario.caught_up(120)
    for load in loads:
        load.stop()
    for scenario, load in zip(both, loads, strict=True):
        scenario.settle(120)
        outcome = scenario.verify(load)
        print(f"[{row} {scenario.engine}] {outcome}")
        assert outcome.lost == [], outcome
        assert outcome.both == 0, outcome


def _rss_mb(worker: Child) -> float:
    for line in Path(f"/proc/{worker.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _timeouts(worker: Child) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in worker.metrics().splitlines()
        if line.startswith(ERRORS) and 'error="ModelTimeoutError"' in line
    )


def _joins(worker: Child) -> int:
    """Times the worker was given partitions (a rebalance it took part in)."""
    text = worker.log.read_text(errors="replace")
    return text.count("partitions assigned:") + text.count("Joined group")


def test_row5_broker_killed_and_back_after_30s_the_workers_resume_alone(
    both: list[Scenario], kafka: KafkaServer
) -> None:
    workers, loads = _start(both)
    assert kafka.kill()
    try:
        time.sleep(30)  # the outage
    finally:
        kafka.start()
    _finish(both, loads, "row 5")
    assert all(w.proc.poll() is None for w in workers)  # resumed, never restarted


def test_row6_triton_stopped_30s_holds_the_stream_in_bounded_memory(
    both: list[Scenario], own_triton: TritonServer
) -> None:
    triton = {"grpc_url": own_triton.config.triton_grpc_url, "timeout_s": 1.0}
    workers, loads = _start(both, triton=triton, runner={"retry_max_backoff_s": 1.0})
    before = [_rss_mb(w) for w in workers]
    own_triton.stop()
    peak = list(before)
    try:
        end = time.monotonic() + 30  # the outage
        while time.monotonic() < end:
            peak = [max(p, _rss_mb(w)) for p, w in zip(peak, workers, strict=True)]
            time.sleep(0.5)
        for scenario, worker in zip(both, workers, strict=True):
            page = worker.metrics()
            assert metric(page, f'streamscore_breaker_state{{model="{DEFAULT_MODEL}:1"}}') > 0
            assert metric(page, "streamscore_model_errors_total") > 0
            _nothing_acked_without_an_output(scenario, loads[both.index(scenario)])
    finally:
        own_triton.start()
    _finish(both, loads, "row 6")
    for scenario, b, p in zip(both, before, peak, strict=True):
        print(f"[row 6 {scenario.engine}] worker RSS {b:.0f} MB before, {p:.0f} MB peak")
        assert p - b < 300, (b, p)


def _nothing_acked_without_an_output(scenario: Scenario, load: SteadyLoad) -> None:
    """Every input below the committed offsets already has its output."""
    ends = end_offsets(scenario.bootstrap, scenario.topics.events)
    done = committed_offsets(scenario.bootstrap, scenario.group, scenario.topics.events, len(ends))
    assert sum(ends.values()) > sum(done.values()), "the outage held nothing back"
    outcome = scenario.verify(load)
    acked_lost = [(p, o) for p, o in outcome.lost if o < done[p]]
    assert acked_lost == [], f"acked without an output: {acked_lost[:5]}"


def test_row7_triton_2s_late_times_out_without_a_rebalance_and_loses_nothing(
    both: list[Scenario], own_triton: TritonServer
) -> None:
    host, port = own_triton.config.host, own_triton.config.triton_grpc_port
    with LatencyProxy(host, port) as proxy:
        triton = {"grpc_url": proxy.address, "timeout_s": 1.0}
        workers, loads = _start(both, triton=triton, runner={"retry_max_backoff_s": 1.0})
        joins = [_joins(w) for w in workers]
        with delayed(proxy, 2.0):
            for worker in workers:
                wait_for(lambda w=worker: _timeouts(w) >= 1, 30, "a request to time out")
            time.sleep(10)  # the slow spell goes on: heartbeats must too
        _finish(both, loads, "row 7")
        for scenario, worker, before in zip(both, workers, joins, strict=True):
            late, rebalances = _timeouts(worker), _joins(worker) - before
            print(f"[row 7 {scenario.engine}] {late:.0f} timeouts, {rebalances} rebalances")
            assert rebalances == 0, "a rebalance during the slow spell"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(ServicesSettings(redis_port=free_port(), state_dir=tmp_path))
    server.start()
    yield server
    server.stop()


def _fill(port: int, entities: list[str]) -> None:
    """The entities' features and the routing value (a restarted Redis starts empty)."""
    rng = np.random.default_rng(5)
    client = redis.Redis(port=port)
    rows = ((e, sample_features(rng, 1)[0, N_EVENT:]) for e in entities)
    load_sync(client, VectorLayout.of(FRAUD), rows)
    client.close()
    set_routing(ServicesSettings(redis_port=port), Routing(ModelRef(DEFAULT_MODEL, "1")))


def test_row9_redis_killed_20s_flags_exactly_the_events_of_the_outage(
    both: list[Scenario], own_redis: RedisServer
) -> None:
    port = own_redis.config.redis_port
    _fill(port, both[0].entities)
    url = f"redis://127.0.0.1:{port}/0"
    workers = [s.worker(redis={"url": url}) for s in both]
    loads = [s.load() for s in both]
    for load in loads:
        load.send(RATE * 4, RATE)
    for scenario in both:
        scenario.settle()
    first = [load.sent for load in loads]
    assert own_redis.kill()
    try:
        for load in loads:
            load.send(RATE * 18, RATE)  # the 20 s outage: every event of it scored in it
        for scenario in both:
            scenario.settle()
    finally:
        own_redis.start()
    outage = [load.sent - n for load, n in zip(loads, first, strict=True)]
    _fill(port, both[0].entities)
    for load in loads:
        load.send(RATE * 4, RATE)
    for scenario, load, worker, n in zip(both, loads, workers, outage, strict=True):
        scenario.settle()
        outcome = scenario.verify(load)
        flagged = sum(p["features_missing"] for p in outcome.predictions.values())
        down = metric(worker.metrics(), 'streamscore_features_missing_total{cause="store-down"}')
        print(f"[row 9 {scenario.engine}] {outcome}; {n} events in the outage, {flagged} flagged")
        assert outcome.lost == [], outcome
        assert flagged == n == down

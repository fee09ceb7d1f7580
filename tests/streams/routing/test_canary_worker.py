"""A canary on a running worker (librdkafka engine; the split lives in the pipeline both
engines share): the share it decides for, stickiness, and a rollback mid-stream.

``pytest tests/streams/routing/test_canary_worker.py -s`` prints the measured share and the
rollback time (from the rollback command to the scoring of the last canary decision).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from typer.testing import CliRunner

from infra.settings import ServicesSettings
from streams.cli import cli
from streams.routing import ModelRef, Routing
from streams.routing.split import arm_of
from streams.routing.state import Canary
from streams.simulation.simulator import entity_ids
from tests.support.events import make_events
from tests.support.kafka import LiveStream, create_topics, predictions, produce_events
from tests.support.models import DEFAULT_MODEL, export_model, set_routing, stored_routing
from tests.support.projects import FRAUD
from tests.support.waiting import wait_for

PRIMARY = ModelRef(DEFAULT_MODEL, "1")
REFRESH_S = 1.0  # the default routing refresh: what a user gets
MARGIN_S = 0.25  # the batch already taken when the routing is re-read


def start(stack: ServicesSettings, start_worker: Any) -> tuple[Any, ModelRef]:
    challenger = ModelRef(export_model(stack, "canary-challenger", seed=23), "1")
    worker = start_worker(engine="librdkafka", routing={"refresh_s": REFRESH_S})
    create_topics(stack.kafka_bootstrap, worker.topics)
    return worker, challenger


def test_a_ten_percent_canary_decides_for_a_sticky_ten_percent(
    stack: ServicesSettings, start_worker: Any
) -> None:
    worker, challenger = start(stack, start_worker)
    set_routing(stack, Routing(PRIMARY, (), Canary(challenger, 10.0)))
    ids = entity_ids(FRAUD, 20_000)
    events, _ = make_events(30_000, seed=41, entities=ids)  # 10,000 entities twice
    produce_events(stack.kafka_bootstrap, worker.topics.events, events)
    scored = predictions(stack.kafka_bootstrap, worker.topics.predictions, len(events), 120)

    assert sorted(p["event_id"] for p in scored) == sorted(e["event_id"] for e in events)
    arms: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for p in scored:
        arms[p["entity_id"]].add((p["role"], p["model_name"], p["model_version"]))
    expected = {
        "canary": ("canary", challenger.name, challenger.version),
        "primary": ("primary", PRIMARY.name, PRIMARY.version),
    }
    for entity, seen in arms.items():  # sticky: one arm per entity, the hash's
        assert seen == {expected[arm_of(entity, 10.0)]}, entity
    share = sum(1 for seen in arms.values() if expected["canary"] in seen) / len(arms)
    print(f"\n10% canary: {share:.2%} of {len(arms):,} entities decided by the canary")
    assert abs(share - 0.10) <= 0.01


def test_rollback_mid_stream_returns_every_entity_to_the_primary_within_a_refresh(
    stack: ServicesSettings, start_worker: Any
) -> None:
    worker, challenger = start(stack, start_worker)
    set_routing(stack, Routing(PRIMARY, (), Canary(challenger, 50.0)))
    ids = entity_ids(FRAUD, 400)
    events, _ = make_events(4000, seed=43, entities=ids)  # more than the stream ever needs

    stream = LiveStream(stack.kafka_bootstrap, worker.topics.events, events)  # 200 events/s
    stream.start()
    try:
        # Under load, with both arms deciding: 500 events out before the rollback.
        wait_for(lambda: stream.sent >= 500, timeout_s=30, what="500 events sent")
        url = f"redis://{stack.host}:{stack.redis_port}/0"
        rolled_back_at_ms = time.time() * 1000
        result = CliRunner().invoke(
            cli,
            ["models", "rollback", "--redis-url", url, "--triton-url", stack.triton_grpc_url],
        )
        # The stream goes on until 400 more events are out past the refresh's deadline,
        # however long the rollback took on a busy machine.
        time.sleep(max(0.0, rolled_back_at_ms / 1000 + REFRESH_S + MARGIN_S - time.time()))
        deadline_count = stream.sent
        wait_for(lambda: stream.sent >= deadline_count + 400, timeout_s=30, what="400 more sent")
    finally:
        events = stream.stop()
    assert result.exit_code == 0, result.output
    assert stored_routing(stack) == Routing(PRIMARY)

    scored = predictions(stack.kafka_bootstrap, worker.topics.predictions, len(events), 60)
    assert sorted(p["event_id"] for p in scored) == sorted(e["event_id"] for e in events)

    def ms(p: dict[str, Any], field: str) -> float:
        return float(p[field].timestamp() * 1000)

    canary = [p for p in scored if p["role"] == "canary"]
    after = [
        p
        for p in scored
        if ms(p, "event_time") >= rolled_back_at_ms + (REFRESH_S + MARGIN_S) * 1000
    ]
    assert len(canary) > 100 and len(after) > 300  # the canary decided, then the rollback
    assert {(p["role"], p["model_name"], p["model_version"]) for p in after} == {
        ("primary", PRIMARY.name, PRIMARY.version)
    }
    last_canary_ms = max(ms(p, "scored_at") for p in canary)
    took_s = max(0.0, last_canary_ms - rolled_back_at_ms) / 1000
    print(f"\nrollback: last canary decision scored {took_s:.3f} s after `models rollback`")
    assert worker.proc.poll() is None  # the same process, never restarted

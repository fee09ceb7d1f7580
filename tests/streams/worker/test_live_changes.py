"""What reaches a running worker without a restart: a new primary, and feature updates."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import redis
from confluent_kafka import Producer
from typer.testing import CliRunner

from infra.settings import ServicesSettings
from streams.cli import cli
from streams.client import ClientSettings, RecordConsumer, RecordProducer, Undecodable
from streams.routing import ModelRef, Routing
from tests.support.deployed import Deployed
from tests.support.events import Entities, make_events
from tests.support.kafka import LiveStream, predictions, produce_events
from tests.support.models import DEFAULT_MODEL, set_routing
from tests.support.waiting import wait_for

# The README promises "running workers switch within 1 s" at the default refresh (1 s); the
# margin covers the batch already taken when the routing value is re-read.
SWITCH_S = 1.0
MARGIN_S = 0.25


def test_promote_under_load_reaches_the_worker_within_a_second(
    stack: ServicesSettings, start_worker: Any, challenger: str, entities: Entities
) -> None:
    ids, _ = entities
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")))
    worker = start_worker(routing={"refresh_s": 1.0})  # the default, not the tests' 0.2 s
    events, _ = make_events(4000, seed=8, entities=ids)  # more than the stream ever needs

    warm, _ = make_events(20, seed=18, entities=ids)
    produce_events(stack.kafka_bootstrap, worker.topics.events, warm)
    assert len(predictions(stack.kafka_bootstrap, worker.topics.predictions, 20)) == 20
    stream = LiveStream(stack.kafka_bootstrap, worker.topics.events, events)  # 200 events/s
    stream.start()
    try:
        # Under load when the routing changes, with 300 events out at least half a second
        # before it: the early ones, scored by the old primary.
        wait_for(lambda: stream.sent >= 300, timeout_s=30, what="300 events sent")
        time.sleep(0.5)
        url = f"redis://{stack.host}:{stack.redis_port}/0"
        # --force: this measures how fast a promotion reaches a worker, not the rule's gate
        # (tests/streams/cli/test_promote.py), and the challenger never shadowed here.
        promote = ["models", "promote", f"{challenger}:1", "--force", "--redis-url", url]
        result = CliRunner().invoke(
            cli,
            [*promote, "--triton-url", stack.triton_grpc_url, "--bootstrap", stack.kafka_bootstrap],
            env={f"STREAMSCORE_TOPIC_{role.upper()}": name for role, name in worker.topics},
        )
        promoted_at_ms = time.time() * 1000
        # The stream goes on until 300 more events are out past the switch's deadline,
        # however long the promotion took on a busy machine.
        time.sleep(SWITCH_S + MARGIN_S)
        deadline_count = stream.sent
        wait_for(lambda: stream.sent >= deadline_count + 300, timeout_s=30, what="300 more sent")
    finally:
        sent = stream.stop()
    assert result.exit_code == 0, result.output
    scored = predictions(stack.kafka_bootstrap, worker.topics.predictions, len(sent) + 20)
    assert {p["event_id"] for p in scored} == {e["event_id"] for e in sent + warm}
    late = [
        p
        for p in scored
        if p["event_time"].timestamp() * 1000 >= promoted_at_ms + (SWITCH_S + MARGIN_S) * 1000
    ]
    # Sent half a second before the change: scored long before it, by the old primary.
    early = [p for p in scored if p["event_time"].timestamp() * 1000 < promoted_at_ms - 500]
    assert len(late) > 200 and len(early) > 200  # the switch happened under load
    assert {(p["model_name"], p["model_version"]) for p in late} == {(challenger, "1")}
    assert {p["model_name"] for p in early} == {DEFAULT_MODEL}
    assert worker.proc.poll() is None  # the same process, never restarted


def test_updates_on_the_features_topic_reach_redis_and_bad_ones_the_dlq(
    stack: ServicesSettings, start_worker: Any, deployed: Deployed
) -> None:
    """For each example project: its feature view's records, keyed by its entity field."""
    project, layout = deployed.project, deployed.layout
    worker = start_worker(project=deployed.path)
    topics = worker.topics
    entity = f"live-{uuid.uuid4().hex[:8]}"
    key = project.features.entity
    # A feature the view leaves unbounded above: 9.0 is a value it may take.
    j = next(i for i, f in enumerate(project.features.features)
             if i >= 2 and (f.valid is None or f.valid[1] is None))  # fmt: skip
    name = project.feature_names[j]
    computed = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    config = ClientSettings(
        project=project.path, kafka={"bootstrap": stack.kafka_bootstrap}, topics=topics
    )
    with RecordProducer(config, topics.features, "entity_features", key) as producer:
        producer.send({key: entity, name: 1.0})
        producer.send({key: entity, name: 9.0, "updated_at": computed})  # the later one wins
    bad = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    bad.produce(topics.features, key=b"broken", value=b"\xc3\x01nonsense")
    bad.flush(10)

    def stored() -> tuple[Any, bytes | None]:
        client = redis.Redis(host=stack.host, port=stack.redis_port)
        try:
            raw = client.get(layout.key(entity))
        finally:
            client.close()
        return layout.unpack_many([raw]), raw

    wait_for(lambda: stored()[0].values[0][j] == 9.0, 60, "the later update")
    rows, raw = stored()
    want = project.feature_defaults
    want[j] = 9.0  # the features the record lacks take the view's defaults
    np.testing.assert_array_equal(rows.values[0], want)
    assert raw is not None  # stamped with the record's updated_at, not the time it came
    assert int.from_bytes(raw[-8:], "little", signed=True) == int(computed.timestamp() * 1000)
    dead = list(
        RecordConsumer(
            config, topics.dlq, schema="event", from_beginning=True, timeout_s=20, limit=1
        )
    )
    assert len(dead) == 1 and isinstance(dead[0], Undecodable)
    assert dead[0].key == b"broken"

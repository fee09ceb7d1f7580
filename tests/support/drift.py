"""Simulated streams for the drift tests: entities in Redis, events sent as fast as the
producer goes (their event times spaced at the simulated rate), and what the agent wrote."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import redis
from confluent_kafka import Producer

from infra.process import log_tail
from infra.settings import ServicesSettings
from schemas.codec import codec_for
from streams.features.store import VectorLayout, load_sync
from streams.simulation.simulator import Drift, EventSimulator, entity_feature_rows
from tests.conftest import Child
from tests.support.kafka import consume
from tests.support.projects import FEATURE_NAMES, FRAUD, fraud_codec
from tests.support.waiting import metric

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RATE = 1000.0  # simulated events per second of event time (the demo's rate)
ENTITIES = 1000


def load_entities(stack: ServicesSettings, seed: int = 0, entities: int = ENTITIES) -> None:
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    rows = [
        (e, [v[n] for n in FEATURE_NAMES]) for e, v in entity_feature_rows(FRAUD, seed, entities)
    ]
    load_sync(client, VectorLayout.of(FRAUD), rows)
    client.close()


def simulator(drift: Drift | None = None, seed: int = 0, start: datetime = T0) -> EventSimulator:
    return EventSimulator(FRAUD, seed=seed, entities=ENTITIES, drift=drift, start=start, rate=RATE)


def send_events(
    bootstrap: str, topic: str, sim: EventSimulator, count: int, skip: int = 0,
    labels_topic: str | None = None,
) -> None:  # fmt: skip
    """Events ``skip .. skip + count`` of ``sim`` (and their labels), flushed."""
    events, labels = fraud_codec("event"), fraud_codec("label")
    # Idempotent, so that a retried request cannot reorder a partition's event times.
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True}
    )
    for item in itertools.islice(sim.events(), skip, skip + count):
        key = item.event["entity_id"].encode()
        producer.produce(topic, key=key, value=events.encode(item.event))
        if labels_topic is not None:
            value = labels.encode(item.label(item.event["event_time"], FRAUD))
            producer.produce(labels_topic, key=key, value=value)
        producer.poll(0)
    assert producer.flush(30) == 0


def read_records(bootstrap: str, topic: str, schema: str, timeout_s: float = 5.0) -> list[Any]:
    """Every record on ``topic`` so far, decoded (logical types as plain numbers)."""
    codec = (
        fraud_codec(schema, logical_types=False)
        if schema in FRAUD.schemas
        else codec_for(schema, logical_types=False)
    )
    return [codec.decode(m.value()) for m in consume(bootstrap, topic, 10**9, timeout_s)]


def agent_metric(agent: Child, series: str) -> float:
    """A series of the agent's /metrics (-1 while it is not serving yet)."""
    if agent.proc.poll() is not None:
        raise AssertionError(f"the agent exited:\n{log_tail(agent.log)}")
    try:
        return metric(agent.metrics(), series)
    except OSError:
        return -1

"""The SDK against the real broker: wire format, dedup, undecodable values, failures."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import avro.io
import avro.schema
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from infra.kafka_server import KafkaServer
from infra.process import free_port
from schemas.codec import fingerprint
from streams.client import (
    ClientSettings,
    DeliveryError,
    EventProducer,
    InvalidRecordError,
    PredictionConsumer,
    RecordConsumer,
    RecordProducer,
    Undecodable,
)
from streams.topics import TopicSpec, ensure_topics
from tests.support.projects import FRAUD

T0 = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)


def event(event_id: str, entity_id: str = "acct-1", **changes: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "entity_id": entity_id,
        "event_time": T0,
        "amount": 12.5,
        "items": 2,
        "session_seconds": 30.0,
        "distance_km": 1.5,
        "is_foreign": False,
        "hour_of_day": 13,
        "device_age_days": 40,
        "merchant_risk": 0.25,
        "segment": "retail",
        **changes,
    }


@pytest.fixture
def config(kafka: KafkaServer) -> ClientSettings:
    return ClientSettings(kafka={"bootstrap": kafka.config.kafka_bootstrap})


def new_topic(config: ClientSettings, partitions: int = 3) -> str:
    name = f"t-sdk-{uuid.uuid4().hex[:10]}"
    assert ensure_topics(config.kafka.bootstrap, [TopicSpec(name, partitions)]) == [name]
    return name


def raw_values(config: ClientSettings, topic: str, n: int) -> list[tuple[bytes, bytes]]:
    """Bytes as they are on the topic, read without the SDK (partition 0 only)."""
    consumer = Consumer(config.kafka.librdkafka(**{"group.id": uuid.uuid4().hex}))
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got: list[tuple[bytes, bytes]] = []
    try:
        for _ in range(200):
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                got.append((msg.key(), msg.value()))
            if len(got) >= n:
                break
    finally:
        consumer.close()
    return got


def test_an_sdk_event_decodes_with_the_reference_avro_package(config: ClientSettings) -> None:
    topic = new_topic(config, partitions=1)
    with EventProducer(config, topic) as producer:
        producer.send(event("e-1", "acct-42"))
    assert producer.delivered == 1
    [(key, value)] = raw_values(config, topic, 1)
    assert key == b"acct-42"
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == fingerprint(FRAUD.schema("event"))
    schema = avro.schema.parse(FRAUD.resolve(FRAUD.spec.events.schema_file).read_text())
    decoded = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))
    assert decoded == event("e-1", "acct-42")


def test_send_refuses_a_bad_record_naming_the_field(config: ClientSettings) -> None:
    producer = EventProducer(config, new_topic(config))
    with pytest.raises(InvalidRecordError, match="field 'amount'"):
        producer.send(event("e-1", amount="12"))
    assert producer.sent == 0


def prediction(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "entity_id": "acct-1",
        "model_name": "scorer",
        "model_version": "1",
        "score": 0.25,
        "decision": "approve",
        "event_time": T0,
        "scored_at": T0,
    }


def test_prediction_consumer_dedup_drops_repeated_event_ids(config: ClientSettings) -> None:
    """At-least-once scoring may publish a prediction twice; readers dedup by event_id."""
    topic = new_topic(config)
    ids = ["a", "b", "a", "c", "b", "a"]
    # One key: one partition, so the order read is the order sent.
    with RecordProducer(config, topic, "prediction", "entity_id") as producer:
        producer.send_many(prediction(i) for i in ids)

    def read(**options: Any) -> tuple[list[str], int]:
        consumer = PredictionConsumer(
            config, topic, schema="prediction", from_beginning=True, until_end=True, **options
        )
        got = [r["event_id"] for r in consumer if isinstance(r, dict)]
        return got, consumer.stats.duplicates

    assert read() == (ids, 0)
    assert read(dedup=True) == (["a", "b", "c"], 3)
    # a window of two ids has forgotten "a" (pushed out by "c") when it comes back last
    assert read(dedup=True, dedup_window=2) == (["a", "b", "c", "a"], 2)


def test_undecodable_values_are_yielded_in_place_not_hidden(config: ClientSettings) -> None:
    topic = new_topic(config, partitions=1)
    raw = Producer(config.kafka.librdkafka())
    raw.produce(topic, b"not avro at all", b"k")
    raw.flush(10)
    with EventProducer(config, topic) as producer:
        producer.send(event("e-1"))
    consumer = PredictionConsumer(config, topic, from_beginning=True, until_end=True)
    first, second = list(consumer)
    assert isinstance(first, Undecodable)
    assert (first.reason, first.offset, first.key) == ("bad-magic", 0, b"k")
    assert isinstance(second, dict) and second["event_id"] == "e-1"  # schema from fingerprint
    assert (consumer.stats.decoded, consumer.stats.undecodable) == (1, 1)


def test_limit_and_timeout_stop_the_iteration(config: ClientSettings) -> None:
    topic = new_topic(config)
    with EventProducer(config, topic) as producer:
        producer.send_many(event(f"e-{i}", f"acct-{i}") for i in range(10))
    limited = RecordConsumer(config, topic, from_beginning=True, limit=4, timeout_s=10)
    assert len(list(limited)) == 4
    idle = RecordConsumer(config, topic, from_beginning=True, timeout_s=0.5)
    assert sorted(r["event_id"] for r in idle if isinstance(r, dict)) == sorted(
        f"e-{i}" for i in range(10)
    )


def test_undelivered_records_are_reported_not_lost() -> None:
    nowhere = ClientSettings(kafka={"bootstrap": f"127.0.0.1:{free_port()}"})
    producer = EventProducer(nowhere, "events")
    producer.send_many([event("e-1"), event("e-2")])
    failures = producer.flush(timeout_s=0.5)
    assert sorted(f.key for f in failures) == ["acct-1", "acct-1"]
    assert producer.pending == 0 and producer.delivered == 0
    with (
        pytest.raises(DeliveryError, match="1 record"),
        EventProducer(nowhere, close_timeout_s=0.5) as leaving,
    ):
        leaving.send(event("e-3"))


def test_a_named_group_commits_what_was_taken_and_resumes_after_it(config: ClientSettings) -> None:
    topic = new_topic(config)
    with EventProducer(config, topic) as producer:
        producer.send_many(event(f"e-{i}", f"acct-{i}") for i in range(6))
    group = f"g-{uuid.uuid4().hex[:8]}"

    def read(**options: Any) -> list[str]:
        consumer = RecordConsumer(
            config, topic, group_id=group, from_beginning=True, timeout_s=10, **options
        )
        return [r["event_id"] for r in consumer if isinstance(r, dict)]

    first = read(limit=2)
    rest = read(until_end=True)
    assert len(first) == 2
    assert sorted(first + rest) == [f"e-{i}" for i in range(6)]  # nothing twice, none lost

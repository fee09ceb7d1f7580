"""Reading and writing the real test broker: raw produce, consume from the start, offsets."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.codec import codec_for
from streams.topics import TopicNames, TopicSpec, ensure_topics
from tests.support.projects import fraud_codec

EVENT_CODEC = fraud_codec("event")
PREDICTION_CODEC = codec_for("prediction")


def create_topics(bootstrap: str, topics: TopicNames, partitions: int = 4) -> None:
    ensure_topics(bootstrap, [TopicSpec(name, partitions) for _, name in topics])


def produce(
    bootstrap: str, topic: str, values: list[tuple[bytes, bytes]], partition: int | None = None
) -> None:
    """Raw key/value pairs, flushed; ``partition`` pins them all to one partition."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for key, value in values:
        if partition is None:
            producer.produce(topic, key=key, value=value)
        else:
            producer.produce(topic, key=key, value=value, partition=partition)
    assert producer.flush(15) == 0


def produce_events(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    produce(bootstrap, topic, [(e["entity_id"].encode(), EVENT_CODEC.encode(e)) for e in events])


class LiveStream(threading.Thread):
    """``events`` at ``per_tick / tick_s`` a second (200/s by default), each stamped with the
    time it is sent, until :meth:`stop` or the list ends: live traffic for a change made
    while it flows. ``sent`` counts what is out so far."""

    def __init__(
        self, bootstrap: str, topic: str, events: list[dict[str, Any]], per_tick: int = 20,
        tick_s: float = 0.1,
    ) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.events = bootstrap, topic, events
        self.per_tick, self.tick_s = per_tick, tick_s
        self.sent = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        for start in range(0, len(self.events), self.per_tick):
            if self._stopping.is_set():
                return
            chunk = self.events[start : start + self.per_tick]
            for event in chunk:
                event["event_time"] = datetime.now(UTC)
            produce_events(self.bootstrap, self.topic, chunk)
            self.sent += len(chunk)
            time.sleep(self.tick_s)

    def stop(self) -> list[dict[str, Any]]:
        """Stop between ticks; the events that were sent."""
        self._stopping.set()
        self.join()
        return self.events[: self.sent]


def consume(bootstrap: str, topic: str, n: int, timeout_s: float = 60.0) -> list[Message]:
    """The first ``n`` messages of ``topic`` (or all there are after ``timeout_s``)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < n and time.monotonic() < deadline:
            out += [m for m in consume_batch(consumer) if m.error() is None]
    finally:
        consumer.close()
    return out


def consume_batch(consumer: Consumer) -> list[Message]:
    return list(consumer.consume(500, 0.5))


def predictions(
    bootstrap: str, topic: str, n: int, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    return [PREDICTION_CODEC.decode(m.value()) for m in consume(bootstrap, topic, n, timeout_s)]


def committed(bootstrap: str, group: str, topic: str, partitions: int = 4) -> int:
    """Sum of the group's committed offsets on ``topic``: how many events it finished."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in tps)


def group_sizes(bootstrap: str, group: str, topic: str) -> list[int]:
    """Partitions of ``topic`` assigned to each member of the consumer group."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(10)
    return sorted(
        sum(1 for tp in m.assignment.topic_partitions if tp.topic == topic)
        for m in description.members
    )

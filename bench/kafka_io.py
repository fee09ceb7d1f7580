"""The bench's own Kafka plumbing: topics, output counts, broker timestamps, reading back.

Outputs go to topics created with ``message.timestamp.type=LogAppendTime``, so every output
carries the broker's clock at append: throughput runs from the first output to the last by
that clock, and latency is that clock minus the event's ``event_time``. While a
configuration runs, the bench only asks for high watermarks (a few small requests, no
records fetched), so watching costs the measured machine next to nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, KafkaException, TopicPartition

from streams.topics import TopicSpec, ensure_topics

PARTITIONS = 4  # the default layout of `streamscore up` (streams/topics.py)
LOG_APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}


def create_topics(
    bootstrap: str, inputs: Iterable[str], outputs: Iterable[str], partitions: int = PARTITIONS
) -> None:
    specs = [TopicSpec(name, partitions) for name in inputs]
    specs += [TopicSpec(name, partitions, dict(LOG_APPEND_TIME)) for name in outputs]
    ensure_topics(bootstrap, specs)


@dataclass(frozen=True, slots=True)
class Span:
    """What is on an output topic: how many records, first and last broker timestamp (ms)."""

    records: int
    first_ms: int
    last_ms: int

    @property
    def rate(self) -> float:
        """Records per second from the first to the last append (0 when undefined)."""
        seconds = (self.last_ms - self.first_ms) / 1000.0
        return (self.records - 1) / seconds if self.records > 1 and seconds > 0 else 0.0


class TopicReader:
    """One consumer without subscriptions, for watermarks and reads by explicit assignment."""

    def __init__(self, bootstrap: str, partitions: int = PARTITIONS) -> None:
        self.partitions = partitions
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )

    def close(self) -> None:
        self._consumer.close()

    def _tps(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in range(self.partitions)]

    def ends(self, topic: str) -> list[int]:
        """High watermark of each partition (records so far; the topics start empty)."""
        return [self._end(tp) for tp in self._tps(topic)]

    def _end(self, tp: TopicPartition, retry_s: float = 15.0) -> int:
        # A topic created a moment ago may not have a leader yet: ask again for a while.
        deadline = time.monotonic() + retry_s
        while True:
            try:
                return int(self._consumer.get_watermark_offsets(tp, timeout=5, cached=False)[1])
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def count(self, topic: str) -> int:
        return sum(self.ends(topic))

    def span(self, topic: str) -> Span:
        """Count and first/last LogAppendTime, from two records per partition."""
        firsts, lasts = [], []
        ends = self.ends(topic)
        for partition, end in enumerate(ends):
            if end == 0:
                continue
            firsts.append(self._timestamp_at(topic, partition, 0))
            lasts.append(self._timestamp_at(topic, partition, end - 1))
        # Left assigned, the consumer would keep a fetch waiting at the end of the partition,
        # and the broker answers one request per connection at a time: every watermark
        # request of the next run (how the bench watches it) would wait for that fetch.
        self._consumer.unassign()
        if not firsts:
            return Span(0, 0, 0)
        return Span(sum(ends), min(firsts), max(lasts))

    def _timestamp_at(self, topic: str, partition: int, offset: int) -> int:
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        for _ in range(50):
            msg = self._consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                return log_append_time(msg)
        raise RuntimeError(f"no record at {topic}[{partition}]@{offset}")

    def read_all(self, topic: str) -> list[tuple[int, bytes]]:
        """Every record now on ``topic`` as (LogAppendTime ms, value)."""
        ends = self.ends(topic)
        want = sum(ends)
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(self.partitions)])
        out: list[tuple[int, bytes]] = []
        idle = 0
        while len(out) < want and idle < 50:
            batch = self._consumer.consume(10_000, 0.2)
            idle = 0 if batch else idle + 1
            for msg in batch:
                if msg.error() is None:
                    out.append((log_append_time(msg), bytes(msg.value() or b"")))
        self._consumer.unassign()
        return out


def log_append_time(msg: Any) -> int:
    kind, ts = msg.timestamp()
    if kind != TIMESTAMP_LOG_APPEND_TIME:
        raise RuntimeError(f"{msg.topic()} does not use LogAppendTime; timestamps are the client's")
    return int(ts)

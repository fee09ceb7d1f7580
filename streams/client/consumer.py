"""Read records back from StreamScore's topics, decoded, deduplicated on request.

A value that does not decode is yielded as :class:`Undecodable`, in place: never skipped
silently. Errors: streams/client/errors.py.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from schemas.codec import AvroCodec, Record, codec_for, schema_names, split_single_object
from schemas.errors import DecodeError, DecodeReason
from streams.client.admin import topic_partitions
from streams.client.errors import KAFKA_LOG, ClientError, LoginWatch
from streams.client.settings import PROJECT_SCHEMAS, ClientSettings


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A value that is no record of a known schema: yielded in place, never skipped silently."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.reason}: {self.detail}"


@dataclass(slots=True)
class ConsumeStats:
    decoded: int = 0
    undecodable: int = 0
    duplicates: int = 0


def schema_for_topic(topic: str, config: ClientSettings) -> str | None:
    """The schema a configured topic carries (the project's for events, labels and feature
    updates; a bundled one for the others); None for other topics (and the DLQ)."""
    t = config.topics
    by_topic = {
        t.events: "event",
        t.labels: "label",
        t.predictions: "prediction",
        t.shadow: "prediction",
        t.drift_alerts: "drift_alert",
        t.retraining: "retraining_request",
        t.retraining_results: "retraining_result",
        t.drift_summaries: "window_summary",
        t.features: "entity_features",
        t.model_events: "model_event",
    }
    return by_topic.get(topic)


class _AnySchema:
    """Decodes single-object values of any bundled or project schema, picked by the writer's
    fingerprint."""

    def __init__(self, config: ClientSettings) -> None:
        codecs = [codec_for(name) for name in schema_names()]
        codecs += [config.codec(role) for role in PROJECT_SCHEMAS]
        self._by_fingerprint = {c.fingerprint: c for c in codecs}

    def decode(self, value: bytes) -> Record:
        key, _ = split_single_object(value)
        codec = self._by_fingerprint.get(key)
        if codec is None:
            raise DecodeError(DecodeReason.UNKNOWN_SCHEMA, f"fingerprint {key.hex()}")
        return codec.decode(value)


class RecordConsumer:
    """Iterates the decoded records of one topic, and :class:`Undecodable` for bad values.

    The schema comes from ``schema``, else from the topic's configured role, else (single-
    object encoding only) from each value's writer fingerprint. Without ``group_id`` the
    consumer reads every partition through a throw-away assignment: no group, no commits.
    With one, it joins the group and commits each record's offset once the caller has
    taken it (at-least-once). Iteration stops after ``limit`` items, after ``timeout_s``
    without a message, or, with ``until_end``, when every partition reached its end.
    ``dedup`` drops records whose event_id was among the last ``dedup_window`` seen.
    """

    def __init__(
        self,
        config: ClientSettings,
        topic: str,
        *,
        schema: str | None = None,
        from_beginning: bool = False,
        group_id: str | None = None,
        limit: int | None = None,
        timeout_s: float | None = None,
        until_end: bool = False,
        dedup: bool = False,
        dedup_window: int = 100_000,
        batch_size: int = 500,
        consumer_conf: Mapping[str, Any] | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if dedup_window < 1:
            raise ValueError(f"dedup_window must be at least 1, got {dedup_window}")
        self.config = config
        self.topic = topic
        self.from_beginning = from_beginning
        self.group_id = group_id
        self.limit = limit
        self.timeout_s = timeout_s
        self.until_end = until_end
        self.dedup_window = dedup_window if dedup else 0
        self.batch_size = batch_size
        self.stats = ConsumeStats()
        schema = schema or schema_for_topic(topic, config)
        if schema is None and config.registry.url:
            raise ClientError(f"topic {topic!r} has no known schema: name one (schema=...)")
        self._decoder: AvroCodec | _AnySchema = (
            config.codec(schema) if schema else _AnySchema(config)
        )
        self._watch = LoginWatch(config.kafka.bootstrap)
        self._conf = config.kafka.librdkafka(
            **{
                "error_cb": self._watch,
                "group.id": group_id or f"streamscore-reader-{uuid.uuid4().hex}",
                "enable.auto.commit": group_id is not None,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest" if from_beginning else "latest",
                "enable.partition.eof": until_end,
                # A quiet partition answers a fetch after this long: it bounds how soon
                # until_end sees an empty partition's end (the default 500 ms is slow).
                "fetch.wait.max.ms": 100,
                "logger": KAFKA_LOG,
                **(consumer_conf or {}),
            }
        )

    def __iter__(self) -> Iterator[Record | Undecodable]:
        consumer = Consumer(self._conf)
        try:
            yield from self._read(consumer)
        finally:
            consumer.close()

    def _read(self, consumer: Consumer) -> Iterator[Record | Undecodable]:
        if self.group_id is None:
            start = OFFSET_BEGINNING if self.from_beginning else OFFSET_END
            parts = topic_partitions(consumer, self.config, self.topic, 10.0, self._watch)
            consumer.assign([TopicPartition(self.topic, p, start) for p in parts])
        else:
            consumer.subscribe([self.topic])
        seen: OrderedDict[str, None] = OrderedDict()
        at_end: set[int] = set()
        taken = 0
        last_message = time.monotonic()
        while True:
            batch = consumer.consume(self.batch_size, timeout=0.1)
            self._watch.check()  # a refused login never yields a message: say so, do not idle
            for msg in batch:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition() or 0)
                        continue
                    raise ClientError(f"reading {self.topic}: {err.str()}") from KafkaException(err)
                at_end.discard(msg.partition() or 0)
                last_message = time.monotonic()
                item = self._decode(msg)
                if self.dedup_window and isinstance(item, dict) and self._seen(seen, item):
                    self.stats.duplicates += 1
                else:
                    yield item
                    taken += 1
                if self.group_id is not None:
                    consumer.store_offsets(message=msg)
                if self.limit is not None and taken >= self.limit:
                    return
            if self.until_end:
                assigned = {tp.partition for tp in consumer.assignment()}
                if assigned and assigned <= at_end:
                    return
            if self.timeout_s is not None and time.monotonic() - last_message >= self.timeout_s:
                return

    def _decode(self, msg: Message) -> Record | Undecodable:
        value = msg.value()
        try:
            record = self._decoder.decode(value or b"")
        except DecodeError as exc:
            self.stats.undecodable += 1
            return Undecodable(
                msg.topic() or self.topic,
                msg.partition() or 0,
                msg.offset() or 0,
                msg.key(),
                str(exc.reason),
                exc.detail,
            )
        self.stats.decoded += 1
        return record

    def _seen(self, seen: OrderedDict[str, None], record: Record) -> bool:
        event_id = record.get("event_id")
        if event_id is None:
            return False
        if event_id in seen:
            return True
        seen[event_id] = None
        if len(seen) > self.dedup_window:
            seen.popitem(last=False)  # bounded memory: forget the oldest id
        return False


class PredictionConsumer(RecordConsumer):
    """Reads predictions (or, with ``topic=config.topics.shadow``, the shadow outputs)."""

    def __init__(self, config: ClientSettings, topic: str | None = None, **kwargs: Any) -> None:
        super().__init__(config, topic or config.topics.predictions, **kwargs)

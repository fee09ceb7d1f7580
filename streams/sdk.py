"""The client SDK: produce records to StreamScore's topics, and read records back.

Errors raised here hang off the tree drawn in :mod:`schemas.errors`::

    StreamScoreError
    └── ClientError             a Kafka client could not do what it was asked
        ├── DeliveryError       records were not acknowledged by the broker
        └── InvalidRecordError  a record does not fit its schema (names the field)

confluent-kafka's own exceptions are translated in this module, with ``raise ... from``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from pydantic import ValidationError

from schemas.codec import AvroCodec, Record, codec_for, schema_names, split_single_object
from schemas.errors import DecodeError, DecodeReason, StreamScoreError
from schemas.records import RECORD_TYPES, AvroRecord, to_avro
from streams.input_files import validation_problems
from streams.settings import ClientConfig

__all__ = [
    "ClientError",
    "DeliveryError",
    "DeliveryFailure",
    "EventProducer",
    "InvalidRecordError",
    "LabelProducer",
    "PredictionConsumer",
    "RecordConsumer",
    "RecordProducer",
    "Undecodable",
    "check_topic",
    "schema_for_topic",
]

KAFKA_LOG = logging.getLogger("streamscore.kafka")

# Idempotence with acks=all: a retried batch is never written twice, order per key holds.
# Only failures come back as delivery reports: a callback per success costs ~1 µs per event.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    "delivery.report.only.error": True,
}


class ClientError(StreamScoreError):
    """A Kafka client could not do what it was asked (unreachable broker, unknown topic)."""


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """One record the broker did not acknowledge, and librdkafka's reason."""

    topic: str
    key: str | None
    code: str
    reason: str

    def __str__(self) -> str:
        return f"{self.topic} key={self.key!r}: {self.code}: {self.reason}"


class DeliveryError(ClientError):
    """Records were not acknowledged; ``failures`` lists each one."""

    def __init__(self, failures: list[DeliveryFailure]) -> None:
        first = "; ".join(str(f) for f in failures[:3])
        super().__init__(f"{len(failures)} record(s) not delivered: {first}")
        self.failures = failures


class InvalidRecordError(ClientError, ValueError):
    """A record given to a producer does not fit its schema; the message names the field."""


def check_topic(config: ClientConfig, topic: str, timeout_s: float = 10.0) -> int:
    """The topic's partition count; fails early and clearly instead of queueing into a void."""
    admin = AdminClient(config.kafka_conf(logger=KAFKA_LOG))
    return len(_topic_partitions(admin, config, topic, timeout_s))


def _topic_partitions(
    client: AdminClient | Consumer, config: ClientConfig, topic: str, timeout_s: float
) -> list[int]:
    # Asks for all topics, not this one: asking for a single unknown topic lets a broker with
    # auto.create.topics.enable create it, and a typo would become a topic.
    try:
        meta = client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ClientError(f"cannot reach Kafka at {config.kafka_bootstrap}: {exc}") from exc
    found = meta.topics.get(topic)
    if found is None:
        raise ClientError(f"topic {topic!r} does not exist on {config.kafka_bootstrap}")
    if found.error is not None:
        raise ClientError(f"topic {topic!r}: {found.error}")
    return sorted(found.partitions)


class RecordProducer:
    """Sends records of one schema to one topic, keyed by one of their fields.

    ``send`` validates a plain dict against the pydantic mirror of the schema unless
    ``validate=False`` (for records already validated, e.g. by :mod:`streams.input_files`);
    a pydantic model is trusted. ``flush`` waits for acknowledgements and returns what
    failed; leaving the ``with`` block flushes (up to ``close_timeout_s``) and raises
    :class:`DeliveryError` on failures.
    """

    def __init__(
        self,
        config: ClientConfig,
        topic: str,
        schema: str,
        key_field: str,
        *,
        validate: bool = True,
        codec: AvroCodec | None = None,
        producer_conf: Mapping[str, Any] | None = None,
        close_timeout_s: float = 30.0,
    ) -> None:
        self.topic = topic
        self.close_timeout_s = close_timeout_s
        self.key_field = key_field
        self.codec = codec or codec_for(
            schema, registry_url=config.schema_registry_url, registry_conf=config.registry_conf()
        )
        self._model: type[AvroRecord] | None = RECORD_TYPES[self.codec.name] if validate else None
        conf = {**PRODUCER_DEFAULTS, **(producer_conf or {})}
        self._producer = Producer(
            config.kafka_conf(**conf, logger=KAFKA_LOG, on_delivery=self._on_delivery)
        )
        self._failures: list[DeliveryFailure] = []
        self.sent = 0
        self.failed = 0

    def send(self, record: Mapping[str, Any] | AvroRecord) -> None:
        """Queue one record; returns at once, the broker acknowledges in the background."""
        if isinstance(record, AvroRecord):
            record = to_avro(record)
        elif self._model is not None:
            try:
                record = to_avro(self._model.model_validate(record))
            except ValidationError as exc:
                field, message = validation_problems(exc)[0]
                where = f"field '{field}'" if field else "record"
                raise InvalidRecordError(f"{self.codec.name}: {where}: {message}") from exc
        key = record.get(self.key_field)
        value = self.codec.encode(record)
        self._produce(None if key is None else str(key).encode(), value)

    def send_many(self, records: Iterable[Mapping[str, Any] | AvroRecord]) -> int:
        """Queue every record; returns how many."""
        n = 0
        for record in records:
            self.send(record)
            n += 1
        return n

    def _produce(self, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value, key)
                break
            except BufferError:  # the local queue is full: wait for the broker to catch up
                self._producer.poll(0.1)
            except KafkaException as exc:
                raise ClientError(f"cannot produce to {self.topic}: {exc}") from exc
        self.sent += 1
        self._producer.poll(0)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            return
        raw_key = msg.key()
        key = raw_key.decode(errors="replace") if isinstance(raw_key, bytes) else None
        self._failures.append(
            DeliveryFailure(msg.topic() or self.topic, key, err.name(), err.str())
        )
        self.failed += 1

    @property
    def pending(self) -> int:
        """Records queued or in flight, not yet acknowledged or failed."""
        return len(self._producer)

    def flush(self, timeout_s: float = 30.0) -> list[DeliveryFailure]:
        """Wait up to ``timeout_s`` for every record sent so far; returns those that failed.

        Records still unacknowledged at the deadline are purged and reported as failures, so
        that afterwards each record is either delivered or in a returned list. A purged record
        that was already in flight may still reach the topic: consumers dedup by event_id.
        """
        self._producer.flush(timeout_s)
        if len(self._producer):
            self._producer.purge()
            self._producer.flush(1.0)  # serves the purged records' delivery reports
        failures, self._failures = self._failures, []
        return failures

    @property
    def delivered(self) -> int:
        """Records acknowledged so far (exact after :meth:`flush`)."""
        return self.sent - self.failed - self.pending

    def close(self) -> list[DeliveryFailure]:
        """Flush with the ``close_timeout_s`` given at construction."""
        return self.flush(self.close_timeout_s)

    def __enter__(self) -> RecordProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failures = self.close()
        if failures and exc is None:  # never mask the exception already on its way out
            raise DeliveryError(failures)


class EventProducer(RecordProducer):
    """Events to score, keyed by entity_id (DESIGN.md: per-entity order)."""

    def __init__(self, config: ClientConfig, topic: str | None = None, **kwargs: Any) -> None:
        super().__init__(config, topic or config.topics.events, "event", "entity_id", **kwargs)


class LabelProducer(RecordProducer):
    """Observed outcomes of events, keyed by entity_id like the events they belong to."""

    def __init__(self, config: ClientConfig, topic: str | None = None, **kwargs: Any) -> None:
        super().__init__(config, topic or config.topics.labels, "label", "entity_id", **kwargs)


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


def schema_for_topic(topic: str, config: ClientConfig) -> str | None:
    """The bundled schema a configured topic carries; None for other topics (and the DLQ)."""
    t = config.topics
    by_topic = {
        t.events: "event",
        t.labels: "label",
        t.predictions: "prediction",
        t.shadow: "prediction",
        t.drift_alerts: "drift_alert",
        t.retraining: "retraining_request",
    }
    return by_topic.get(topic)


class _AnySchema:
    """Decodes single-object values of any bundled schema, picked by the writer's fingerprint."""

    def __init__(self) -> None:
        codecs = (codec_for(name) for name in schema_names())
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
        config: ClientConfig,
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
        if schema is None and config.schema_registry_url:
            raise ClientError(f"topic {topic!r} has no known schema: name one (schema=...)")
        self._decoder: AvroCodec | _AnySchema = (
            codec_for(
                schema,
                registry_url=config.schema_registry_url,
                registry_conf=config.registry_conf(),
            )
            if schema
            else _AnySchema()
        )
        self._conf = config.kafka_conf(
            **{
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
            parts = _topic_partitions(consumer, self.config, self.topic, 10.0)
            consumer.assign([TopicPartition(self.topic, p, start) for p in parts])
        else:
            consumer.subscribe([self.topic])
        seen: OrderedDict[str, None] = OrderedDict()
        at_end: set[int] = set()
        taken = 0
        last_message = time.monotonic()
        while True:
            batch = consumer.consume(self.batch_size, timeout=0.1)
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

    def __init__(self, config: ClientConfig, topic: str | None = None, **kwargs: Any) -> None:
        super().__init__(config, topic or config.topics.predictions, **kwargs)

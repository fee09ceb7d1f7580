"""Produce records to StreamScore's topics: one schema, one topic, keyed by one field.

Values are validated against the pydantic mirror of their schema (unless the caller
validated them already), framed by the codec, and sent with an idempotent producer; only
failures come back as delivery reports. Errors: streams/client/errors.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import ValidationError

from schemas.codec import AvroCodec
from schemas.records import AvroRecord, to_avro
from streams.client.errors import (
    KAFKA_LOG,
    ClientError,
    DeliveryError,
    DeliveryFailure,
    InvalidRecordError,
)
from streams.client.input_files import PROJECT_ROLES, schema_and_model, validation_problems
from streams.client.settings import ClientSettings

# Idempotence with acks=all: a retried batch is never written twice, order per key holds.
# Only failures come back as delivery reports: a callback per success costs ~1 µs per event.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    "delivery.report.only.error": True,
}


class RecordProducer:
    """Sends records of one schema to one topic, keyed by one of their fields.

    ``send`` validates a plain dict against the pydantic mirror of the schema unless
    ``validate=False`` (for records already validated, e.g. by :mod:`streams.client.input_files`);
    a pydantic model is trusted. ``flush`` waits for acknowledgements and returns what
    failed; leaving the ``with`` block flushes (up to ``close_timeout_s``) and raises
    :class:`DeliveryError` on failures.
    """

    def __init__(
        self,
        config: ClientSettings,
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
        self.codec = codec or config.codec(schema)
        project = config.use_case() if schema in PROJECT_ROLES else None
        self._model: type[AvroRecord] | None = (
            schema_and_model(schema, project)[1] if validate else None
        )
        conf = {**PRODUCER_DEFAULTS, **(producer_conf or {})}
        self._producer = Producer(
            config.kafka.librdkafka(**conf, logger=KAFKA_LOG, on_delivery=self._on_delivery)
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

    def connect(self, timeout_s: float = 10.0) -> None:
        """Open the connection and fetch the topic's metadata now, not on the first send:
        a paced sender (`simulate`) starts its clock after this, so the first events do
        not carry the connection's set-up as latency."""
        self._producer.list_topics(self.topic, timeout=timeout_s)

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
    """The project's events, keyed by their entity field, so that each entity's events keep
    their order."""

    def __init__(self, config: ClientSettings, topic: str | None = None, **kwargs: Any) -> None:
        entity = config.use_case().spec.events.entity
        super().__init__(config, topic or config.topics.events, "event", entity, **kwargs)


class LabelProducer(RecordProducer):
    """Observed outcomes of events, keyed by entity_id like the events they belong to."""

    def __init__(self, config: ClientSettings, topic: str | None = None, **kwargs: Any) -> None:
        super().__init__(config, topic or config.topics.labels, "label", "entity_id", **kwargs)

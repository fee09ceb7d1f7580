"""The client SDK's branch of the exception tree (drawn whole in infra/errors.py)::

    StreamScoreError
    └── ClientError             a Kafka client could not do what it was asked
        ├── DeliveryError       records were not acknowledged by the broker
        └── InvalidRecordError  a record does not fit its schema (names the field)

confluent-kafka's own exceptions are translated into these in streams/client/, with
``raise ... from``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from infra.errors import StreamScoreError

# librdkafka's own log lines go through this logger, never straight to stderr.
KAFKA_LOG = logging.getLogger("streamscore.kafka")


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

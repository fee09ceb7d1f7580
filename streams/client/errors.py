"""The client SDK's branch of the exception tree (drawn whole in infra/errors.py)::

    StreamScoreError
    └── ClientError             a Kafka client could not do what it was asked
        ├── AuthenticationError the broker refused the login, or TLS failed
        ├── DeliveryError       records were not acknowledged by the broker
        └── InvalidRecordError  a record does not fit its schema (names the field)

confluent-kafka's own exceptions are translated into these in streams/client/, with
``raise ... from``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from confluent_kafka import KafkaError

from infra.errors import StreamScoreError

# librdkafka's own log lines go through this logger, never straight to stderr: a process that
# configures logging sees them there; a command that does not (the CLI) prints its one line.
KAFKA_LOG = logging.getLogger("streamscore.kafka")
KAFKA_LOG.addHandler(logging.NullHandler())

# "sasl_ssl://127.0.0.1:9092/bootstrap: SASL authentication error: ... (after 308ms in state
# AUTH_REQ)": the reason is the middle part.
_BROKER_PREFIX = re.compile(r"^\S+://\S+?: ")
_STATE_SUFFIX = re.compile(r" \(after \d+ms in state \w+\)$")


class ClientError(StreamScoreError):
    """A Kafka client could not do what it was asked (unreachable broker, unknown topic)."""


class AuthenticationError(ClientError):
    """The broker refused the credentials, or the TLS handshake failed: retrying cannot help."""


class LoginWatch:
    """A librdkafka ``error_cb``: remembers the first authentication or TLS failure, which
    librdkafka itself only logs while it retries for ever. :meth:`check` raises it."""

    CODES = (KafkaError._AUTHENTICATION, KafkaError._SSL)

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.failure: AuthenticationError | None = None
        self.all_down = False  # every broker unreachable (refused, or no route), no login yet

    def __call__(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.all_down = True
        if self.failure is None and error.code() in self.CODES:
            reason = _STATE_SUFFIX.sub("", _BROKER_PREFIX.sub("", error.str()))
            login = error.code() == KafkaError._AUTHENTICATION
            what = "authentication failed" if login else "TLS handshake failed"
            self.failure = AuthenticationError(f"Kafka {what} at {self.bootstrap}: {reason}")

    def check(self) -> None:
        if self.failure is not None:
            raise self.failure


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

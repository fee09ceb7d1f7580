"""StreamScore's one exception tree.

Callers catch by meaning, not by library: a worker asks "is this message bad (dead-letter it)
or is the world broken (stop and retry)?", and the answer is the class it caught. Library
exceptions (fastavro, confluent-kafka) are translated where they are raised, with
``raise ... from exc`` so the cause stays on the traceback::

    StreamScoreError            anything StreamScore raises on purpose
    ├── InfraError              (infra/errors.py) a local service cannot be installed or started
    └── SchemaError             a schema, a record or its bytes break the contract
        ├── DecodeError         these bytes can never become a record: dead-letter them
        ├── EncodeError         this record cannot become bytes: a bug in the caller
        └── RegistryError       the schema registry did not answer: retry, never dead-letter

Other packages hang their branches off ``StreamScoreError`` and add them to this drawing.
"""

from __future__ import annotations

from enum import StrEnum


class StreamScoreError(Exception):
    """Root of every error StreamScore raises on purpose."""


class SchemaError(StreamScoreError):
    """A schema, a record or its encoded bytes do not fit the contract in schemas/."""


class DecodeReason(StrEnum):
    """Why a message could not be decoded: short, stable tokens for DLQ headers and metrics.

    Stable because dashboards and alerts group by them; add members, never rename them.
    """

    EMPTY = "empty"
    SHORT_HEADER = "short-header"
    BAD_MAGIC = "bad-magic"
    UNKNOWN_SCHEMA = "unknown-schema"
    SCHEMA_MISMATCH = "schema-mismatch"
    TRUNCATED = "truncated"
    TRAILING_BYTES = "trailing-bytes"
    MALFORMED = "malformed"


class DecodeError(SchemaError):
    """Bytes that will never decode, however often they are retried.

    ``reason`` is a :class:`DecodeReason` for the DLQ header and the metric label;
    ``detail`` says what was seen, for the person reading the DLQ.
    """

    def __init__(self, reason: DecodeReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[DecodeError], tuple[DecodeReason, str]]:
        # Keeps the error picklable with its two arguments (Exception pickles args only).
        return (type(self), (self.reason, self.detail))


class EncodeError(SchemaError):
    """A record does not fit its schema; the code that built it is wrong, not the input."""


class RegistryError(SchemaError):
    """The schema registry could not be reached or refused a request; transient by nature."""

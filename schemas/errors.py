"""The schemas' branch of the exception tree (drawn whole in infra/errors.py)::

    StreamScoreError
    └── SchemaError             a schema, a record or its bytes break the contract
        ├── DecodeError         these bytes can never become a record: dead-letter them
        ├── EncodeError         this record cannot become bytes: a bug in the caller
        └── RegistryError       the schema registry did not answer: retry, never dead-letter

fastavro's exceptions are translated into these where they are raised (schemas/codec.py).
"""

from __future__ import annotations

from enum import StrEnum

from infra.errors import StreamScoreError


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

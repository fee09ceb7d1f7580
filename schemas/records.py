"""Pydantic mirrors of the Avro records: where input from outside is checked, field by field.

These are StreamScore's own records. A project's records (its events, labels and feature
updates) are checked by models made from its schemas (schemas/project/records.py).

The codec trusts the dicts it is given, because checking costs as much as encoding and the
hot path writes records built by our own code. Input from people and client systems (CLI
lines, SDK calls) comes through these models first, so that a bad value is refused with the
name of its field instead of reaching the wire: fastavro alone writes the string "12" into a
double and 1.5 into an int. Types are therefore strict (no string-to-number coercion), and
the ranges the .avsc docs promise are enforced here.

Times are aware datetimes in UTC, cut to the millisecond that timestamp-millis can carry, so
that a record equals itself after an Avro round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _as_utc_millis(value: object) -> object:
    """Accept ISO-8601 with an offset, epoch milliseconds, or an aware datetime."""
    if isinstance(value, bool):
        return value  # a bool is an int to Python; leave it for the type check to refuse
    if isinstance(value, int):
        try:
            value = _EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            raise ValueError(f"{value} ms since the epoch is out of range") from None
    elif isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO-8601 time: {value!r}") from None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            # A naive time is ambiguous; guessing UTC would shift events by hours unseen.
            raise ValueError("time needs a UTC offset, e.g. 2024-05-01T12:00:00Z")
        value = value.astimezone(UTC)
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


UtcMillis = Annotated[AwareDatetime, BeforeValidator(_as_utc_millis)]
Int32 = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]
Long = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
Count32 = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]
Id = Annotated[str, Field(min_length=1)]
NonNegative = Annotated[float, Field(ge=0.0)]


class AvroRecord(BaseModel):
    """Shared rules: strict types, no unknown fields, finite numbers, immutable once made."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)
    AVRO_NAME: ClassVar[str]


class StageTimings(AvroRecord):
    AVRO_NAME: ClassVar[str] = "dev.streamscore.StageTimings"

    decode_ms: NonNegative = 0.0
    features_ms: NonNegative = 0.0
    infer_ms: NonNegative = 0.0
    publish_ms: NonNegative = 0.0


class Prediction(AvroRecord):
    AVRO_NAME: ClassVar[str] = "dev.streamscore.Prediction"

    event_id: Id
    entity_id: Id
    model_name: Id
    model_version: Id
    score: float
    decision: Id  # a string, not a Literal: new decisions must not break old readers
    features_missing: bool = False
    event_time: UtcMillis
    scored_at: UtcMillis
    timings: StageTimings = StageTimings()
    role: Id = "primary"  # a string, like decision: primary, canary or shadow
    features_stale: bool = False
    outputs: list[float] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)


class DriftAlert(AvroRecord):
    AVRO_NAME: ClassVar[str] = "dev.streamscore.DriftAlert"

    alert_id: Id
    feature: Id
    detector: Id
    statistic: float
    threshold: float
    window_start: UtcMillis
    window_end: UtcMillis
    window_size: Annotated[Long, Field(ge=0)]
    model_name: Id
    model_version: Id
    evidence: dict[str, float] = Field(default_factory=dict)
    raised_at: UtcMillis

    @model_validator(mode="after")
    def _window_in_order(self) -> DriftAlert:
        if self.window_end < self.window_start:
            raise ValueError("window_end is before window_start")
        return self


class RetrainingRequest(AvroRecord):
    AVRO_NAME: ClassVar[str] = "dev.streamscore.RetrainingRequest"

    request_id: Id
    model_name: Id
    reason: Id
    requested_by: Id
    alert_ids: list[Id] = Field(default_factory=list)
    requested_at: UtcMillis
    from_time: UtcMillis | None = None
    to_time: UtcMillis | None = None

    @model_validator(mode="after")
    def _range_in_order(self) -> RetrainingRequest:
        if self.from_time and self.to_time and self.to_time < self.from_time:
            raise ValueError("to_time is before from_time")
        return self


class RetrainingResult(AvroRecord):
    AVRO_NAME: ClassVar[str] = "dev.streamscore.RetrainingResult"

    result_id: Id | None = None
    request_id: Id
    model_name: Id
    outcome: Id  # a string, as decision: a new outcome must not break old readers
    reasons: list[str] = Field(default_factory=list)
    new_version: Id | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    primary_version: Id | None = None
    from_time: UtcMillis | None = None
    to_time: UtcMillis | None = None
    finished_at: UtcMillis


class WindowSummary(AvroRecord):
    AVRO_NAME: ClassVar[str] = "dev.streamscore.WindowSummary"

    producer: Id
    seq: Annotated[Long, Field(ge=1)]
    model_name: Id
    model_version: Id
    window_start: UtcMillis
    window_end: UtcMillis
    max_event_time: UtcMillis
    watermark: UtcMillis
    events: Annotated[Long, Field(ge=0)]
    features_missing: Annotated[Long, Field(ge=0)]
    decisions: list[Annotated[Long, Field(ge=0)]]
    n_bins: Annotated[StrictInt, Field(ge=1)]
    counts: list[Annotated[Long, Field(ge=0)]]
    features_stale: Annotated[Long, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _consistent(self) -> WindowSummary:
        if not self.decisions:
            raise ValueError("decisions has one count per decision of the model")
        if len(self.counts) % self.n_bins:
            raise ValueError("counts is not a whole number of columns of n_bins")
        if self.features_missing > self.events or self.features_stale > self.events:
            raise ValueError("features_missing or features_stale is more than events")
        return self


class ModelEvent(AvroRecord):
    """A routing change and why (schemas/model_event.avsc), on `models.events`."""

    AVRO_NAME: ClassVar[str] = "dev.streamscore.ModelEvent"

    event_id: Id
    kind: Id  # a string, as decision: a new kind must not break old readers
    model: Id
    reason: Id
    before: str | None = None
    after: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    at: UtcMillis
    by: Id


RECORD_TYPES: dict[str, type[AvroRecord]] = {
    model.AVRO_NAME: model
    for model in (
        StageTimings,
        Prediction,
        DriftAlert,
        RetrainingRequest,
        RetrainingResult,
        WindowSummary,
        ModelEvent,
    )
}

M = TypeVar("M", bound=AvroRecord)


def to_avro(model: AvroRecord) -> dict[str, Any]:
    """The dict the codec writes: nested records as dicts, times as aware datetimes."""
    return model.model_dump()


def from_avro(model_type: type[M], record: Mapping[str, Any]) -> M:
    """A decoded record, checked; ``RECORD_TYPES[codec.name]`` picks the type by Avro name."""
    return model_type.model_validate(record)

"""The pydantic mirrors of StreamScore's records, and the validators made from a project's
schemas (the fraud example's event, label and feature update): they match the schemas and
refuse bad input by field name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas.codec import full_name, load_schema, schema_names
from schemas.project.records import record_model
from schemas.records import (
    RECORD_TYPES,
    DriftAlert,
    Prediction,
    RetrainingRequest,
    StageTimings,
    from_avro,
    to_avro,
)
from tests.support.projects import FRAUD
from tests.support.samples import codec_of

# The fraud project's validators (its ranges: hour_of_day [0, 23], merchant_risk [0, 1], ...).
Event = record_model(FRAUD, "event")
Label = record_model(FRAUD, "label")
EntityFeatures = record_model(FRAUD, "entity_features")
PROJECT_ROLES = ("event", "label", "entity_features")

T0 = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)

EVENT: dict[str, Any] = {
    "event_id": "e-1",
    "entity_id": "acct-42",
    "event_time": "2024-05-01T12:00:00.123Z",
    "amount": 12,
    "items": 2,
    "session_seconds": 33.0,
    "distance_km": 4.25,
    "is_foreign": False,
    "hour_of_day": 13,
    "device_age_days": 100,
    "merchant_risk": 0.2,
}

MODELS: dict[str, BaseModel] = {
    "event": Event.model_validate(EVENT),
    "prediction": Prediction(
        event_id="e-1",
        entity_id="acct-42",
        model_name="fraud-mlp",
        model_version="3",
        score=0.91,
        decision="review",
        event_time=T0,
        scored_at=1714564800123,
        timings=StageTimings(infer_ms=1.5),
    ),
    "label": Label(event_id="e-1", entity_id="acct-42", label=0, observed_at=T0),
    "entity_features": EntityFeatures(entity_id="acct-42", chargeback_rate_90d=0.02),
    "drift_alert": DriftAlert(
        alert_id="a-1",
        feature="amount",
        detector="ks",
        statistic=0.4,
        threshold=0.1,
        window_start=T0 - timedelta(hours=1),
        window_end=T0,
        window_size=1000,
        model_name="fraud-mlp",
        model_version="3",
        evidence={"p_value": 0.001},
        raised_at=T0,
    ),
    "retraining_request": RetrainingRequest(
        request_id="r-1",
        model_name="fraud-mlp",
        reason="drift",
        requested_by="drift-agent",
        requested_at=T0,
    ),
}


def _fields(schema: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(f["name"], "default" in f) for f in schema["fields"]]


def _model_fields(model: type[BaseModel]) -> list[tuple[str, bool]]:
    return [(name, not info.is_required()) for name, info in model.model_fields.items()]


@pytest.mark.parametrize("name", schema_names())
def test_model_mirrors_avsc_fields_and_defaults(name: str) -> None:
    schema = load_schema(name)
    model = RECORD_TYPES[full_name(schema)]
    assert _model_fields(model) == _fields(schema)


@pytest.mark.parametrize("role", PROJECT_ROLES)
def test_project_validator_mirrors_its_schema_fields_and_defaults(role: str) -> None:
    assert _model_fields(record_model(FRAUD, role)) == _fields(FRAUD.schema(role))


def test_stage_timings_mirror_the_nested_record() -> None:
    nested = next(f["type"] for f in load_schema("prediction")["fields"] if f["name"] == "timings")
    assert _model_fields(StageTimings) == _fields(nested)
    assert RECORD_TYPES["dev.streamscore.StageTimings"] is StageTimings


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_through_the_codec(name: str) -> None:
    model, codec = MODELS[name], codec_of(name)
    decoded = codec.decode(codec.encode(to_avro(model)))
    assert from_avro(type(model), decoded) == model


@pytest.mark.parametrize(
    "given",
    [
        "2024-05-01T12:00:00.123Z",
        "2024-05-01T14:00:00.123+02:00",
        1714564800123,
        datetime(2024, 5, 1, 7, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_event_time_forms_become_utc_millis(given: object) -> None:
    event = Event.model_validate(dict(EVENT, event_time=given))
    assert event.event_time == T0
    assert event.event_time.tzinfo is UTC


def _error_locs(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[str | int, ...]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [error["loc"] for error in caught.value.errors()]


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("amount", "12"),
        ("amount", float("nan")),
        ("amount", True),
        ("items", 1.5),
        ("items", -1),
        ("hour_of_day", 24),
        ("hour_of_day", -1),
        ("merchant_risk", 1.5),
        ("merchant_risk", -0.1),
        ("session_seconds", -1.0),
        ("distance_km", -0.5),
        ("device_age_days", -1),
        ("is_foreign", "false"),
        ("event_id", ""),
        ("event_time", "2024-05-01T12:00:00"),  # naive: which zone?
        ("event_time", "yesterday"),
        ("event_time", True),
        ("event_time", 10**20),
        ("device_age_days", 2**31),
    ],
)
def test_bad_event_values_name_their_field(field: str, bad: object) -> None:
    assert _error_locs(Event, dict(EVENT, **{field: bad})) == [(field,)]


def test_unknown_and_missing_fields_are_named() -> None:
    assert _error_locs(Event, dict(EVENT, amout=3.0)) == [("amout",)]
    missing = {k: v for k, v in EVENT.items() if k != "entity_id"}
    assert _error_locs(Event, missing) == [("entity_id",)]


def test_nested_errors_carry_the_path() -> None:
    data = to_avro(MODELS["prediction"])
    data["timings"] = dict(data["timings"], infer_ms=-1.0)
    assert _error_locs(Prediction, data) == [("timings", "infer_ms")]


def test_label_is_zero_or_one() -> None:
    data = to_avro(MODELS["label"])
    assert _error_locs(Label, dict(data, label=2)) == [("label",)]
    assert _error_locs(Label, dict(data, label=-1)) == [("label",)]
    assert _error_locs(Label, dict(data, label=True)) == [("label",)]


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("avg_amount_30d", -1.0),
        ("chargeback_rate_90d", 1.5),
        ("chargeback_rate_90d", -0.01),
        ("txn_count_7d", "5"),
        ("account_age_days", float("inf")),
        ("entity_id", ""),
    ],
)
def test_bad_entity_feature_values_name_their_field(field: str, bad: object) -> None:
    data = to_avro(MODELS["entity_features"])
    assert _error_locs(EntityFeatures, dict(data, **{field: bad})) == [(field,)]


def test_windows_run_forward() -> None:
    alert = to_avro(MODELS["drift_alert"])
    with pytest.raises(ValidationError, match="window_end is before window_start"):
        DriftAlert.model_validate(dict(alert, window_end=T0 - timedelta(days=1)))
    request = to_avro(MODELS["retraining_request"])
    with pytest.raises(ValidationError, match="to_time is before from_time"):
        RetrainingRequest.model_validate(dict(request, from_time=T0, to_time=T0 - timedelta(1)))


def test_records_are_immutable() -> None:
    with pytest.raises(ValidationError):
        MODELS["label"].label = 1  # type: ignore[attr-defined]


def test_entity_feature_defaults_follow_the_feature_view() -> None:
    defaults = {f.name: f.default for f in FRAUD.features.features}
    assert {n: EntityFeatures.model_fields[n].default for n in defaults} == defaults

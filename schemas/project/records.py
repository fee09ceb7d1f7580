"""Validators of a project's records (events, labels, feature updates), made from its schemas.

Input from people and client systems (`streamscore produce`, `features load`, the SDK) is
checked before it reaches the wire, field by field, as schemas/records.py checks
StreamScore's own records: strict types (no "12" for a number, no 1.5 for an int), ints in
range, times with an offset, and the ranges the project declares (``valid`` of an input or a
feature). A label is checked against the task: 0/1 for binary, a class for multiclass, a
finite number for regression.

The models are pydantic models made with ``create_model`` from the Avro fields, once per
project version; their errors name the field, as the CLI reports them.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt, create_model

from schemas.project.avro import base_kind, is_timestamp_millis, kind_of
from schemas.project.project import Project
from schemas.records import AvroRecord, Id, Int32, Long, UtcMillis

Bounds = tuple[float | None, float | None]


class ProjectRecord(AvroRecord):
    """Shared rules of a project's records: strict, finite, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


def _type_of(avro_type: Any, bounds: Bounds | None) -> Any:
    """The pydantic type of one Avro field type (``bounds``: a declared valid range)."""
    kind = kind_of(avro_type)
    base = base_kind(kind)
    inner: Any
    if isinstance(avro_type, dict) and avro_type.get("type") == "enum":
        inner = Literal[tuple(avro_type["symbols"])]
    elif base == "string":
        inner = str
    elif base == "boolean":
        inner = StrictBool
    elif base in ("int", "long"):
        inner = Int32 if base == "int" else Long
        if _is_time(avro_type):
            inner = UtcMillis
    elif base in ("float", "double"):
        inner = float
    else:
        inner = Any  # a record, array or map: the codec checks it
    if bounds is not None and base in ("int", "long", "float", "double"):
        low, high = bounds
        inner = Annotated[inner, Field(ge=low, le=high)]
    return inner | None if kind.startswith("nullable-") else inner


def _is_time(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        return any(is_timestamp_millis(t) for t in avro_type)
    return is_timestamp_millis(avro_type)


def _model(
    name: str,
    schema: dict[str, Any],
    bounds: dict[str, Bounds],
    ids: tuple[str, ...] = (),
    override: dict[str, Any] | None = None,
) -> type[ProjectRecord]:
    fields: dict[str, Any] = {}
    for field in schema["fields"]:
        field_name = field["name"]
        if override and field_name in override:
            annotation = override[field_name]
        elif field_name in ids:
            annotation = Id
        else:
            annotation = _type_of(field["type"], bounds.get(field_name))
        if "default" in field:
            fields[field_name] = (annotation, field["default"])
        elif kind_of(field["type"]).startswith("nullable-"):
            fields[field_name] = (annotation, None)
        else:
            fields[field_name] = (annotation, ...)
    model = create_model(name, __base__=ProjectRecord, **fields)
    return model


@functools.cache
def _models(project: Project) -> dict[str, type[ProjectRecord]]:
    spec = project.spec
    event_bounds = {
        i.field_name: i.valid for i in spec.inputs if i.source == "event" and i.valid is not None
    }
    feature_bounds = {f.name: f.valid for f in spec.features.features if f.valid is not None}
    event = _model(
        "Event", project.event_schema, event_bounds, (spec.events.id, spec.events.entity)
    )
    features = _model(
        "EntityFeatures", project.feature_schema, feature_bounds, (spec.features.entity,)
    )
    label = _model(
        "Label",
        project.label_schema,
        {},
        ("event_id", "entity_id"),
        {spec.labels.field: label_type(project)},
    )
    return {"event": event, "entity_features": features, "label": label}


def label_type(project: Project) -> Any:
    """What a label's outcome may be, by the task and the label type."""
    labels, model = project.spec.labels, project.default_model
    if model.task == "binary":
        return StrictBool if labels.type == "boolean" else Annotated[StrictInt, Field(ge=0, le=1)]
    if model.task == "multiclass":
        classes = tuple(model.classes or ())
        if labels.type == "string":
            return Literal[classes]
        return Annotated[StrictInt, Field(ge=0, le=len(classes) - 1)]
    return int if labels.type in ("int", "long") else float


def record_model(project: Project, role: str) -> type[ProjectRecord]:
    """The validator of the project's ``role`` records: event, label or entity_features."""
    return _models(project)[role]

"""The Avro side of a project: the kinds of its event fields, and the schemas it generates.

A project brings its event schema. The features topic's schema is the feature view's own
file when it names one, else generated from the view (the entity key, each feature with its
default, and ``updated_at``); the label schema is generated from ``labels`` (the event's id
and entity, the outcome field, when it was observed). Generated records take the event
schema's namespace, so that two projects on one schema registry never share a subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# A field's kind, as the columnar decoder (schemas/event_columns.py) and the input layout
# read it: a primitive, the same made optional (a union with null), an enum, or "other" (a
# record, array, map, bytes or fixed: fine in a schema, never a model input).
PRIMITIVES = ("string", "int", "long", "float", "double", "boolean")
NUMBERS = frozenset({"int", "long", "float", "double", "boolean"})
TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}


def kind_of(avro_type: Any) -> str:
    """``double``, ``nullable-double``, ``enum``, ``string``, ... or ``other``."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(avro_type) == 2 and len(branches) == 1 and avro_type[0] == "null":
            inner = kind_of(branches[0])
            return f"nullable-{inner}" if inner in PRIMITIVES else "other"
        return "other"
    if isinstance(avro_type, dict):
        if avro_type.get("type") == "enum":
            return "enum"
        named = avro_type.get("type")
        return str(named) if isinstance(named, str) and named in PRIMITIVES else "other"
    return str(avro_type) if isinstance(avro_type, str) and avro_type in PRIMITIVES else "other"


def base_kind(kind: str) -> str:
    """The kind without ``nullable-``."""
    return kind.removeprefix("nullable-")


def is_timestamp_millis(avro_type: Any) -> bool:
    return isinstance(avro_type, dict) and avro_type.get("logicalType") == "timestamp-millis"


def fields_of(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A record schema's fields by name, in order."""
    return {f["name"]: f for f in schema.get("fields", [])}


def namespace_of(schema: dict[str, Any]) -> str | None:
    name = str(schema.get("name", ""))
    return name.rpartition(".")[0] or schema.get("namespace")


def _record(name: str, namespace: str | None, doc: str, fields: list[dict[str, Any]]) -> Any:
    record: dict[str, Any] = {"type": "record", "name": name}
    if namespace:
        record["namespace"] = namespace
    return {**record, "doc": doc, "fields": fields}


def feature_view_schema(
    view_name: str,
    entity: str,
    features: Sequence[tuple[str, str, float, str]],
    namespace: str | None,
) -> dict[str, Any]:
    """The features topic's record of a view: (name, type, default, doc) per feature."""
    fields: list[dict[str, Any]] = [
        {"name": entity, "type": "string", "doc": "The entity; also the Kafka key."}
    ]
    for name, avro_type, default, doc in features:
        value: Any = bool(default) if avro_type == "boolean" else default
        if avro_type in ("int", "long"):
            value = int(default)
        fields.append({"name": name, "type": avro_type, "default": value, "doc": doc})
    fields.append(UPDATED_AT)
    record = "".join(part.capitalize() for part in view_name.split("_")) + "Features"
    return _record(
        record, namespace, f"Online features of one {view_name}; absent ones take defaults.", fields
    )


UPDATED_AT: dict[str, Any] = {
    "name": "updated_at",
    "type": ["null", TIMESTAMP],
    "default": None,
    "doc": "When these values were computed, UTC; unset: the record's Kafka timestamp. The "
    "store keeps it, and a vector older than the view's ttl scores with the defaults.",
}


def label_schema(field: str, avro_type: str, namespace: str | None) -> dict[str, Any]:
    """The label record of a project: which event, its outcome, when it became known."""
    fields: list[dict[str, Any]] = [
        {"name": "event_id", "type": "string", "doc": "Id of the event the outcome belongs to."},
        {"name": "entity_id", "type": "string", "doc": "Entity of that event; also the Kafka key."},
        {"name": field, "type": avro_type, "doc": "The observed outcome."},
        {"name": "observed_at", "type": TIMESTAMP, "doc": "When the outcome became known, UTC."},
    ]
    return _record("Label", namespace, "The observed outcome of an event.", fields)

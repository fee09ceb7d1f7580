"""The wire codec: single-object framing, fingerprints, bad bytes, batches, evolution
(the Confluent wire format and the registry: test_confluent.py)."""

from __future__ import annotations

import contextlib
import copy
import json
import pickle
import random
from typing import Any

import pytest

from schemas.codec import (
    AvroCodec,
    WriterSchemas,
    fingerprint,
    frame_single_object,
    schema_names,
)
from schemas.errors import DecodeError, DecodeReason, EncodeError
from tests.support.projects import EVENT_FIELDS, FRAUD, fraud_codec
from tests.support.samples import SAMPLES, codec_of, decode_reason, event_v2, schema_of


def rabin64(data: bytes) -> int:
    """CRC-64-AVRO straight from the spec's bit-by-bit definition, without a table."""
    empty = 0xC15D213AA4D7A795
    fp = empty
    for byte in data:
        fp ^= byte
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
    return fp


def test_event_avsc_input_fields_follow_the_project_inputs() -> None:
    fields = schema_of("event")["fields"]
    head = [(f["name"], f["type"]) for f in fields[:3]]
    assert head == [
        ("event_id", "string"),
        ("entity_id", "string"),
        ("event_time", {"type": "long", "logicalType": "timestamp-millis"}),
    ]
    # The fields the project's event inputs read, in the inputs' order (the generator's too).
    inputs = [i.field_name for i in FRAUD.spec.inputs if i.source == "event"]
    assert [f["name"] for f in fields[3:-1]] == inputs == list(EVENT_FIELDS)
    types = {f["name"]: f["type"] for f in fields[3:-1]}
    assert {n for n, t in types.items() if t == "boolean"} == {"is_foreign"}
    assert {n for n, t in types.items() if t == "int"} == {
        "items",
        "hour_of_day",
        "device_age_days",
    }
    assert all(t in ("double", "int", "boolean") for t in types.values())
    assert all(f["doc"] for f in fields)
    assert fields[-1] == {
        "name": "segment",
        "type": ["null", "string"],
        "default": None,
        "doc": fields[-1]["doc"],
    }


def test_entity_features_avsc_follows_the_feature_view() -> None:
    fields = schema_of("entity_features")["fields"]
    assert fields[0]["name"] == "entity_id"
    features = [(f["name"], f["type"], f["default"], f["doc"]) for f in fields[1:-1]]
    view = FRAUD.features.features
    assert features == [(f.name, "double", f.default, f.doc) for f in view]
    assert fields[-1]["name"] == "updated_at" and fields[-1]["default"] is None


def test_every_bundled_schema_has_a_sample() -> None:
    assert sorted([*schema_names(), *FRAUD.schemas]) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip(name: str) -> None:
    codec = codec_of(name)
    assert codec.decode(codec.encode(SAMPLES[name])) == SAMPLES[name]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        # Vectors from Apache Avro's share/test/data/schema-tests.txt (Java-checked).
        ('"int"', 8247732601305521295),
        ('{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}', 5916914534497305771),
        (  # the reference writes the default as "true"; fastavro refuses that, PCF drops it
            '{"fields":[{"type":"boolean","name":"f1","default":true},'
            '{"order":"descending","name":"f2","doc":"Hello","type":"int"}],'
            '"type":"record","name":"foo"}',
            -4860222112080293046,
        ),
        (
            '{"name":"PigValue","type":"record",'
            '"fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
            -1759257747318642341,
        ),
    ],
)
def test_fingerprint_matches_reference_vectors(schema: str, expected: int) -> None:
    parsed = json.loads(schema)
    if isinstance(parsed, str):
        parsed = {"type": parsed}
    assert fingerprint(parsed) == (expected % 2**64).to_bytes(8, "little")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_single_object_header(name: str) -> None:
    value = codec_of(name).encode(SAMPLES[name])
    # Java's canonical form writes a logical type as its primitive.
    canonical = json.dumps(_canonical(schema_of(name)), separators=(",", ":"))
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == rabin64(canonical.encode()).to_bytes(8, "little")


def _canonical(schema: Any, namespace: str = "") -> Any:
    """A small independent Parsing Canonical Form for the shapes our schemas use."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return [_canonical(s, namespace) for s in schema]
    kind = schema["type"]
    if isinstance(kind, dict | list):
        return _canonical(kind, namespace)
    if kind == "record":
        namespace = schema.get("namespace", namespace)
        fields = [
            {"name": f["name"], "type": _canonical(f["type"], namespace)} for f in schema["fields"]
        ]
        full = schema["name"] if "." in schema["name"] else f"{namespace}.{schema['name']}"
        return {"name": full, "type": "record", "fields": fields}
    if kind == "array":
        return {"type": "array", "items": _canonical(schema["items"], namespace)}
    if kind == "map":
        return {"type": "map", "values": _canonical(schema["values"], namespace)}
    return kind  # a primitive, with or without a logical type


def test_bad_headers_are_named(event_value: bytes) -> None:
    codec = fraud_codec("event")
    assert decode_reason(codec, b"") == DecodeReason.EMPTY
    assert decode_reason(codec, b"\xc3\x01abc") == DecodeReason.SHORT_HEADER
    assert decode_reason(codec, b"\x00" * 20) == DecodeReason.BAD_MAGIC
    unknown = frame_single_object(b"\x01" * 8, event_value[10:])
    assert decode_reason(codec, unknown) == DecodeReason.UNKNOWN_SCHEMA


def test_every_truncation_is_truncated(event_value: bytes) -> None:
    codec = fraud_codec("event")
    for cut in range(10, len(event_value)):
        assert decode_reason(codec, event_value[:cut]) == DecodeReason.TRUNCATED, cut


def test_trailing_bytes_and_malformed_body(event_value: bytes) -> None:
    codec = fraud_codec("event")
    assert decode_reason(codec, event_value + b"\x00") == DecodeReason.TRAILING_BYTES
    # event_id is a 3-byte string after the length byte: make it invalid UTF-8.
    broken = event_value[:11] + b"\xff\xfe\xfd" + event_value[14:]
    assert decode_reason(codec, broken) == DecodeReason.MALFORMED


def test_other_record_under_a_known_fingerprint_is_a_mismatch() -> None:
    label = fraud_codec("label").encode(SAMPLES["label"])
    assert decode_reason(fraud_codec("event"), label) == DecodeReason.SCHEMA_MISMATCH


def test_random_bodies_never_escape_as_other_exceptions(event_value: bytes) -> None:
    codec, rng = fraud_codec("event"), random.Random(7)
    for _ in range(3000):
        body = rng.randbytes(rng.randrange(0, 60))
        with contextlib.suppress(DecodeError):  # anything else escaping fails the test
            codec.decode(event_value[:10] + body)


def test_decode_many_keeps_good_and_names_bad(event_value: bytes) -> None:
    codec = fraud_codec("event")
    other = dict(SAMPLES["event"], event_id="e-2")
    values = [
        event_value,
        b"garbage",
        codec.encode(other),
        event_value[:-3],
        b"\xc3\x01" + bytes(8),
    ]
    good, bad = codec.decode_many(values)
    assert [r["event_id"] for r in good] == ["e-1", "e-2"]
    assert [(i, e.reason) for i, e in bad] == [
        (1, DecodeReason.SHORT_HEADER),
        (3, DecodeReason.TRUNCATED),
        (4, DecodeReason.UNKNOWN_SCHEMA),
    ]


def test_decode_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(DecodeError(DecodeReason.TRUNCATED, "at byte 3")))
    assert (error.reason, error.detail) == (DecodeReason.TRUNCATED, "at byte 3")


def test_encode_errors_and_opt_in_validation() -> None:
    with pytest.raises(EncodeError, match="Event"):
        fraud_codec("event").encode({"event_id": "e-1"})
    sloppy = dict(SAMPLES["event"], items=1.5)
    assert fraud_codec("event").decode(fraud_codec("event").encode(sloppy))["items"] == 1
    with pytest.raises(EncodeError, match="items"):
        codec_of("event", validate=True).encode(sloppy)


def test_evolution_both_ways_through_the_fingerprint_registry() -> None:
    v1, v2 = schema_of("event"), event_v2()
    writers = WriterSchemas.bundled()
    writers.add(v1)  # the project's current event schema, as a fraud codec knows it
    writers.add(v2)
    old, new = AvroCodec(v1, writers=writers), AvroCodec(v2, writers=writers)
    from_new = new.encode(dict(SAMPLES["event"], channel="app"))
    assert old.decode(from_new) == SAMPLES["event"]
    assert new.decode(old.encode(SAMPLES["event"])) == dict(SAMPLES["event"], channel="web")
    assert decode_reason(fraud_codec("event"), from_new) == DecodeReason.UNKNOWN_SCHEMA


def test_writer_schemas_do_not_change_the_caller_schema() -> None:
    schema = event_v2()
    before = copy.deepcopy(schema)
    WriterSchemas([schema])
    AvroCodec(schema)
    assert schema == before


def test_a_newer_writer_from_a_folder_reads_as_primitives_for_a_primitive_reader(
    tmp_path: Any,
) -> None:
    """A v2 producer's values (known from a writers folder) read like v1's: the worker's
    hot path reads timestamps as ints, whatever the writer's logicalType says."""
    (tmp_path / "event-v2.avsc").write_text(json.dumps(event_v2()))
    reader = codec_of("event", writers=WriterSchemas.bundled(tmp_path), logical_types=False)
    newer = AvroCodec(event_v2()).encode(dict(SAMPLES["event"], channel="app"))
    older = AvroCodec(schema_of("event")).encode(SAMPLES["event"])
    assert reader.decode(newer) == reader.decode(older)
    assert isinstance(reader.decode(newer)["event_time"], int)
    without = fraud_codec("event", logical_types=False)
    assert decode_reason(without, newer) == DecodeReason.UNKNOWN_SCHEMA

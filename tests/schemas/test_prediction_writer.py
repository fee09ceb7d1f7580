"""The hand-written prediction encoder writes exactly what the generic codec writes."""

from __future__ import annotations

import copy
import json

import pytest

from schemas.codec import SCHEMA_DIR, AvroCodec, WriterSchemas, codec_for, load_schema
from schemas.compat import check_backward
from schemas.errors import SchemaError
from schemas.prediction_writer import PredictionWriter, avro_long


@pytest.mark.parametrize("n", [0, 1, -1, 63, 64, -65, 2**31, 1795638477849, -(2**62)])
def test_avro_long_matches_fastavro(n: int) -> None:
    codec = AvroCodec(
        {"type": "long", "name": "x"}
        | {"type": "record", "fields": [{"name": "v", "type": "long"}]}
    )
    assert codec.encode({"v": n})[10:] == avro_long(n)


@pytest.mark.parametrize("role", ["primary", "canary", "shadow"])
def test_batch_is_byte_identical_to_the_codec(role: str) -> None:
    codec = codec_for("prediction", logical_types=False)
    writer = PredictionWriter(codec)
    ids = ["e-1", "é-2" * 30, ""]
    entities = ["acct-1", "acct-ü", "x" * 200]
    times = [0, 1795638477849, 2**40]
    scores = [0.0, 0.123456789, 1.0]
    decisions = ["approve", "review", "decline"]
    missing = [False, True, False]
    timings = {"decode_ms": 0.5, "features_ms": 1.25, "infer_ms": 3.0, "publish_ms": 0.0}
    parts = writer.event_parts(ids, entities, times)
    values = writer.encode(
        parts, scores, decisions, missing, "scorer", "12", 1795638477999, timings, role
    )
    for i, value in enumerate(values):
        record = {
            "event_id": ids[i], "entity_id": entities[i], "model_name": "scorer",
            "model_version": "12", "score": scores[i], "decision": decisions[i],
            "features_missing": missing[i], "event_time": times[i],
            "scored_at": 1795638477999, "timings": timings, "role": role,
        }  # fmt: skip
        assert value == codec.encode(record)
        assert codec_for("prediction").decode(value)["event_time"].timestamp() * 1000 == times[i]


def test_refuses_a_changed_schema() -> None:
    schema = copy.deepcopy(load_schema("prediction"))
    schema["fields"].insert(5, {"name": "extra", "type": "int", "default": 0})
    with pytest.raises(SchemaError):
        PredictionWriter(AvroCodec(schema))


RECORD = {
    "event_id": "e-1", "entity_id": "acct-1", "model_name": "scorer", "model_version": "2",
    "score": 0.5, "decision": "review", "features_missing": False, "event_time": 1,
    "scored_at": 2, "timings": {"decode_ms": 0.0, "features_ms": 0.0, "infer_ms": 1.0,
                                "publish_ms": 0.0},
}  # fmt: skip


def test_role_is_a_backward_compatible_addition() -> None:
    """A prediction written before ``role`` existed (the released schema) reads as primary;
    a consumer still on the released schema reads a canary's output and ignores its role."""
    old_schema = json.loads((SCHEMA_DIR / "released" / "prediction.avsc").read_text())
    released = AvroCodec(old_schema, logical_types=False)
    current = codec_for("prediction", logical_types=False)
    assert "role" not in {f["name"] for f in released.schema["fields"]}
    assert check_backward(current.schema, released.schema) == []

    old_value = released.encode(RECORD)
    assert current.decode(old_value)["role"] == "primary"

    new_value = current.encode({**RECORD, "role": "canary"})
    writers = WriterSchemas([current.schema])
    old_reader = AvroCodec(old_schema, writers=writers, logical_types=False)
    assert old_reader.decode(new_value) == {**RECORD}

"""The hand-written prediction encoder writes exactly what the generic codec writes."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from schemas.codec import SCHEMA_DIR, AvroCodec, WriterSchemas, codec_for, load_schema
from schemas.compat import check_backward
from schemas.errors import SchemaError
from schemas.prediction_writer import PredictionWriter, avro_long, avro_map, tails


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


TIMINGS = {"decode_ms": 0.5, "features_ms": 1.25, "infer_ms": 3.0, "publish_ms": 0.0}
IDS = ["e-1", "é-2" * 30, "", "e-4"]
ENTITIES = ["acct-1", "acct-ü", "x" * 200, "acct-4"]
TIMES = [0, 1795638477849, 2**40, 5]
STALE = [False, True, True, False]
ATTRIBUTES: list[dict[str, str]] = [
    {},
    {"store_id": "s-01"},
    {"store_id": "s-ü" * 40, "channel": "", "é": "x" * 70},
    {"a": "1", "b": "2", "c": "3"},
]


def _outputs(k: int) -> np.ndarray:
    """Four events' outputs of ``k`` columns, awkward doubles among them."""
    pool = [0.0, -0.0, 0.25, 1.0, float("inf"), float("-inf"), 5e-324, 1e300, 0.123456789]
    pool += [0.75, -2.5, 42.0]
    return np.array([pool[(3 * i + j) % len(pool)] for i in range(4) for j in range(k)],
                    dtype=np.float64).reshape(4, k)  # fmt: skip


def _records(outputs: np.ndarray, role: str, attributes: bool) -> list[dict[str, Any]]:
    decisions = ["approve", "review", "decline", "none"]
    out = []
    for i in range(4):
        score = float(outputs[i, -1]) if outputs.shape[1] else 0.5
        record = {
            "event_id": IDS[i], "entity_id": ENTITIES[i], "model_name": "scorer",
            "model_version": "12", "score": score, "decision": decisions[i],
            "features_missing": i == 3, "event_time": TIMES[i], "scored_at": 1795638477999,
            "timings": TIMINGS, "role": role, "features_stale": STALE[i],
            "outputs": outputs[i].tolist(), "attributes": ATTRIBUTES[i] if attributes else {},
        }  # fmt: skip
        out.append(record)
    return out


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("attributes", [False, True])
@pytest.mark.parametrize("role", ["primary", "shadow"])
def test_outputs_stale_and_attributes_are_byte_identical_to_the_codec(
    k: int, attributes: bool, role: str
) -> None:
    codec = codec_for("prediction", logical_types=False)
    writer = PredictionWriter(codec)
    outputs = _outputs(k)
    records = _records(outputs, role, attributes)
    parts = writer.event_parts(IDS, ENTITIES, TIMES)
    maps = [avro_map(list(a.items())) for a in ATTRIBUTES] if attributes else None
    values = writer.encode(
        parts,
        [r["score"] for r in records],
        [r["decision"] for r in records],
        [r["features_missing"] for r in records],
        "scorer",
        "12",
        1795638477999,
        TIMINGS,
        role,
        np.array(STALE),
        outputs,
        maps,
    )
    assert len(values) == 4
    for value, record in zip(values, records, strict=True):
        assert value == codec.encode(record)
        decoded = codec.decode(value)
        assert decoded["features_stale"] == record["features_stale"]
        assert decoded["outputs"] == record["outputs"]
        assert decoded["attributes"] == record["attributes"]


def test_no_tail_and_no_attributes_write_the_defaults() -> None:
    """Without ``stale``, ``outputs`` and ``attributes``: not stale, no outputs, an empty
    map, exactly as the codec writes those (and as explicit empty tails and maps write them)."""
    codec = codec_for("prediction", logical_types=False)
    writer = PredictionWriter(codec)
    parts = writer.event_parts(IDS[:2], ENTITIES[:2], TIMES[:2])
    args = (parts, [0.1, 0.9], ["approve", "decline"], [False, True], "scorer", "3", 7, TIMINGS)
    plain = writer.encode(*args)
    explicit = writer.encode(*args, "primary", [False, False], np.empty((2, 0)), [avro_map([])] * 2)
    assert plain == explicit
    for i, value in enumerate(plain):
        record = {
            "event_id": IDS[i], "entity_id": ENTITIES[i], "model_name": "scorer",
            "model_version": "3", "score": [0.1, 0.9][i], "decision": ["approve", "decline"][i],
            "features_missing": bool(i), "event_time": TIMES[i], "scored_at": 7,
            "timings": TIMINGS,
        }  # fmt: skip
        assert value == codec.encode(record)


def test_more_outputs_than_one_byte_counts_are_refused() -> None:
    assert len(tails([True], np.zeros((1, 63)))[0]) == 1 + 1 + 8 * 63 + 1
    with pytest.raises(SchemaError, match="64 outputs"):
        tails([True], np.zeros((1, 64)))


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

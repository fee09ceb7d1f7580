"""The hand-written prediction encoder writes exactly what the generic codec writes."""

from __future__ import annotations

import copy

import pytest

from schemas.codec import AvroCodec, codec_for, load_schema
from schemas.errors import SchemaError
from schemas.prediction_writer import PredictionWriter, avro_long


@pytest.mark.parametrize("n", [0, 1, -1, 63, 64, -65, 2**31, 1795638477849, -(2**62)])
def test_avro_long_matches_fastavro(n: int) -> None:
    codec = AvroCodec(
        {"type": "long", "name": "x"}
        | {"type": "record", "fields": [{"name": "v", "type": "long"}]}
    )
    assert codec.encode({"v": n})[10:] == avro_long(n)


def test_batch_is_byte_identical_to_the_codec() -> None:
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
        parts, scores, decisions, missing, "scorer", "12", 1795638477999, timings
    )
    for i, value in enumerate(values):
        record = {
            "event_id": ids[i], "entity_id": entities[i], "model_name": "scorer",
            "model_version": "12", "score": scores[i], "decision": decisions[i],
            "features_missing": missing[i], "event_time": times[i],
            "scored_at": 1795638477999, "timings": timings,
        }  # fmt: skip
        assert value == codec.encode(record)
        assert codec_for("prediction").decode(value)["event_time"].timestamp() * 1000 == times[i]


def test_refuses_a_changed_schema() -> None:
    schema = copy.deepcopy(load_schema("prediction"))
    schema["fields"].insert(5, {"name": "extra", "type": "int", "default": 0})
    with pytest.raises(SchemaError):
        PredictionWriter(AvroCodec(schema))

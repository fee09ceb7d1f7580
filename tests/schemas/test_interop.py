"""Interoperability with the reference ``avro`` package, from the .avsc files alone.

The bodies must be byte-compatible both ways. The headers are ours: the reference Python
package writes a logical type as {"type":"long"} in its canonical form where Java and
fastavro write "long", so its fingerprints differ for schemas with logical types; Java is the
one the Kafka ecosystem follows. Schemas without logical types fingerprint alike.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import avro.io
import avro.schema
import pytest

from schemas.codec import fingerprint, frame_single_object
from tests.support.samples import codec_of, schema_of

T0 = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)

SAMPLES: dict[str, dict[str, Any]] = {
    "event": {
        "event_id": "e-1",
        "entity_id": "acct-42",
        "event_time": T0,
        "amount": -3.75,
        "items": 1,
        "session_seconds": 0.0,
        "distance_km": 1250.5,
        "is_foreign": False,
        "hour_of_day": 0,
        "device_age_days": 0,
        "merchant_risk": 1.0,
        "segment": None,
    },
    "prediction": {
        "event_id": "e-1",
        "entity_id": "acct-42",
        "model_name": "fraud-mlp",
        "model_version": "3",
        "score": 0.5,
        "decision": "approve",
        "features_missing": True,
        "event_time": T0,
        "scored_at": T0,
        "timings": {"decode_ms": 0.0, "features_ms": 2.5, "infer_ms": 0.75, "publish_ms": 0.0},
        "role": "shadow",
        "features_stale": False,
        "outputs": [],
        "attributes": {},
    },
    "label": {"event_id": "e-1", "entity_id": "acct-42", "label": 0, "observed_at": T0},
    "drift_alert": {
        "alert_id": "a-1",
        "feature": "score",
        "detector": "page_hinkley",
        "statistic": 12.0,
        "threshold": 10.0,
        "window_start": T0,
        "window_end": T0,
        "window_size": 2**40,
        "model_name": "fraud-mlp",
        "model_version": "3",
        "evidence": {},
        "raised_at": T0,
    },
    "retraining_request": {
        "request_id": "r-1",
        "model_name": "fraud-mlp",
        "reason": "operator",
        "requested_by": "alice",
        "alert_ids": [],
        "requested_at": T0,
        "from_time": None,
        "to_time": T0,
    },
}


def reference_schema(name: str) -> avro.schema.Schema:
    """The schema read by the reference package from its JSON (the .avsc file, or the fraud
    project's schema of that role)."""
    return avro.schema.parse(json.dumps(schema_of(name)))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_reference_writes_our_codec_reads(name: str) -> None:
    body = io.BytesIO()
    avro.io.DatumWriter(reference_schema(name)).write(SAMPLES[name], avro.io.BinaryEncoder(body))
    codec = codec_of(name)
    assert codec.decode(frame_single_object(codec.fingerprint, body.getvalue())) == SAMPLES[name]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_our_codec_writes_reference_reads(name: str) -> None:
    value = codec_of(name).encode(SAMPLES[name])
    decoder = avro.io.BinaryDecoder(io.BytesIO(value[10:]))
    assert avro.io.DatumReader(reference_schema(name)).read(decoder) == SAMPLES[name]


def test_reference_reads_old_data_with_our_new_schema() -> None:
    """Evolution is the same in both libraries: the reference resolves what we wrote."""
    new_schema = schema_of("event")
    new_schema["fields"].append({"name": "channel", "type": "string", "default": "web"})
    value = codec_of("event").encode(SAMPLES["event"])
    reader = avro.io.DatumReader(
        reference_schema("event"), avro.schema.make_avsc_object(new_schema)
    )
    record = reader.read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))
    assert record == dict(SAMPLES["event"], channel="web")


def test_fingerprints_agree_without_logical_types() -> None:
    schema = {
        "type": "record",
        "name": "Plain",
        "namespace": "dev.streamscore",
        "fields": [
            {"name": "a", "type": "string", "doc": "dropped by the canonical form"},
            {"name": "b", "type": {"type": "map", "values": "double"}},
            {"name": "c", "type": ["null", {"type": "array", "items": "long"}], "default": None},
        ],
    }
    reference = avro.schema.make_avsc_object(schema)
    assert fingerprint(schema) == reference.fingerprint("CRC-64-AVRO")

"""One valid record of every bundled schema and of the fraud project's schemas (event,
label, entity_features), and helpers for the codec's tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.codec import AvroCodec, WriterSchemas, load_schema
from schemas.errors import DecodeError, DecodeReason
from tests.support.projects import FRAUD

T0 = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)

SAMPLES: dict[str, dict[str, Any]] = {
    "event": {
        "event_id": "e-1",
        "entity_id": "acct-42",
        "event_time": T0,
        "amount": 12.5,
        "items": 2,
        "session_seconds": 33.0,
        "distance_km": 4.25,
        "is_foreign": True,
        "hour_of_day": 13,
        "device_age_days": 100,
        "merchant_risk": 0.2,
        "segment": "retail",
    },
    "prediction": {
        "event_id": "e-1",
        "entity_id": "acct-42",
        "model_name": "fraud-mlp",
        "model_version": "3",
        "score": 0.91,
        "decision": "decline",
        "features_missing": False,
        "event_time": T0,
        "scored_at": T0,
        "timings": {"decode_ms": 0.1, "features_ms": 0.7, "infer_ms": 1.5, "publish_ms": 0.2},
        "role": "canary",
        "features_stale": True,
        "outputs": [0.09, 0.91],
        "attributes": {"store_id": "s-01"},
    },
    "label": {"event_id": "e-1", "entity_id": "acct-42", "label": 1, "observed_at": T0},
    "entity_features": {"entity_id": "acct-42"}
    | {f.name: f.default + 1.5 for f in FRAUD.features.features}
    | {"updated_at": T0},
    "drift_alert": {
        "alert_id": "a-1",
        "feature": "amount",
        "detector": "psi",
        "statistic": 0.31,
        "threshold": 0.2,
        "window_start": T0,
        "window_end": T0,
        "window_size": 5000,
        "model_name": "fraud-mlp",
        "model_version": "3",
        "evidence": {"bin_0": 0.12, "bin_1": 0.19},
        "raised_at": T0,
    },
    "retraining_request": {
        "request_id": "r-1",
        "model_name": "fraud-mlp",
        "reason": "drift",
        "requested_by": "drift-agent",
        "alert_ids": ["a-1"],
        "requested_at": T0,
        "from_time": T0,
        "to_time": None,
    },
    "retraining_result": {
        "result_id": None,
        "request_id": "r-1",
        "model_name": "fraud-mlp",
        "outcome": "rejected",
        "reasons": ["candidate AUC 0.51 is below the floor 0.60"],
        "new_version": None,
        "metrics": {"candidate_auc": 0.51, "rows": 12000.0},
        "primary_version": "3",
        "from_time": T0,
        "to_time": T0,
        "finished_at": T0,
    },
    "window_summary": {
        "producer": "host-1-abc",
        "seq": 7,
        "model_name": "fraud-mlp",
        "model_version": "3",
        "window_start": T0,
        "window_end": T0,
        "max_event_time": T0,
        "watermark": T0,
        "events": 3,
        "features_missing": 1,
        "decisions": [2, 1, 0],
        "n_bins": 2,
        "counts": [1, 2, 3, 0],
        "features_stale": 1,
    },
    "model_event": {
        "event_id": "m-1",
        "kind": "rollback",
        "model": "fraud-mlp:4",
        "reason": "error rate 0.31 vs 0.12 on primary",
        "before": '{"primary": "fraud-mlp:3"}',
        "after": None,
        "metrics": {"canary_error_rate": 0.31},
        "at": T0,
        "by": "guard",
    },
}


def schema_of(name: str) -> dict[str, Any]:
    """A fresh copy of a sample's schema: the fraud project's for its records, else the
    bundled one."""
    if name in FRAUD.schemas:
        return copy.deepcopy(FRAUD.schema(name))
    return load_schema(name)


def codec_of(name: str, writers: WriterSchemas | None = None, **options: Any) -> AvroCodec:
    """The codec of a sample's schema (single-object framing); a project schema's codec
    knows the bundled, the project's and their released schemas as writers."""
    if writers is None and name in FRAUD.schemas:
        writers = WriterSchemas.bundled()
        for known in (*FRAUD.schemas.values(), *FRAUD.released):
            writers.add(known)
    return AvroCodec(schema_of(name), writers=writers, **options)


def event_v2() -> dict[str, Any]:
    """The fraud event schema with one more field (a newer producer's)."""
    schema = schema_of("event")
    schema["fields"].append({"name": "channel", "type": "string", "default": "web"})
    return schema


def decode_reason(codec: AvroCodec, value: bytes) -> DecodeReason:
    """Why ``codec`` refuses ``value`` (it must refuse it)."""
    with pytest.raises(DecodeError) as caught:
        codec.decode(value)
    return caught.value.reason

"""The Confluent wire format: framing, ids fixed in code, and a registry that fails or
answers with schemas an Avro codec cannot read."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.codec import (
    AvroCodec,
    RegistrySchemaIds,
    StaticSchemaIds,
    frame_confluent,
    frame_single_object,
    split_confluent,
    split_single_object,
)
from schemas.errors import DecodeError, DecodeReason, RegistryError
from tests.support.samples import SAMPLES, decode_reason, event_v2, schema_of


def test_confluent_framing_functions() -> None:
    value = frame_confluent(258, b"body")
    assert value == b"\x00\x00\x00\x01\x02body"
    assert split_confluent(value) == (258, 5)
    assert split_single_object(frame_single_object(b"12345678", b"x")) == (b"12345678", 10)
    for bad, reason in [(b"", "empty"), (b"\x00\x01", "short-header"), (b"\x01" * 6, "bad-magic")]:
        with pytest.raises(DecodeError) as caught:
            split_confluent(bad)
        assert caught.value.reason == reason


def test_confluent_codec_resolves_by_id() -> None:
    v1, v2 = schema_of("event"), event_v2()
    ids = StaticSchemaIds({7: v1, 8: v2})
    old, new = AvroCodec(v1, ids=ids), AvroCodec(v2, ids=ids)
    value = old.encode(SAMPLES["event"])
    assert value[:5] == b"\x00\x00\x00\x00\x07"
    assert new.decode(value) == dict(SAMPLES["event"], channel="web")
    assert old.decode(new.encode(dict(SAMPLES["event"], channel="app"))) == SAMPLES["event"]
    assert decode_reason(old, frame_confluent(99, value[5:])) == DecodeReason.UNKNOWN_SCHEMA
    with pytest.raises(RegistryError):
        AvroCodec(schema_of("label"), ids=ids).encode(SAMPLES["label"])


class Unreachable(Exception):
    http_status_code = 503


class NotFound(Exception):
    http_status_code = 404


class StubRegistryClient:
    """Stands in for SchemaRegistryClient.get_schema only: no broker, no registry involved."""

    def __init__(self, error: Exception | None = None, registered: Any = None) -> None:
        self.error, self.registered = error, registered

    def get_schema(self, schema_id: int) -> Any:
        if self.error is not None:
            raise self.error
        return self.registered


def registry_codec(client: StubRegistryClient) -> AvroCodec:
    return AvroCodec(schema_of("event"), ids=RegistrySchemaIds(client))


def test_registry_outage_propagates_but_unknown_id_dead_letters(event_value: bytes) -> None:
    value = frame_confluent(5, event_value[10:])
    _, bad = registry_codec(StubRegistryClient(NotFound())).decode_many([value])
    assert bad[0][1].reason == DecodeReason.UNKNOWN_SCHEMA
    with pytest.raises(RegistryError):
        registry_codec(StubRegistryClient(Unreachable())).decode_many([value])


def test_registry_ids_of_unreadable_schemas_dead_letter(event_value: bytes) -> None:
    value = frame_confluent(5, event_value[10:])
    protobuf = SimpleNamespace(schema_type="PROTOBUF", schema_str="syntax = 'proto3';")
    codec = registry_codec(StubRegistryClient(registered=protobuf))
    assert decode_reason(codec, value) == DecodeReason.UNKNOWN_SCHEMA
    avro_text = SimpleNamespace(schema_type=None, schema_str=json.dumps(schema_of("event")))
    assert (
        registry_codec(StubRegistryClient(registered=avro_text)).decode(value) == SAMPLES["event"]
    )
    nameless = SimpleNamespace(schema_type="AVRO", schema_str='{"type": "record"}')
    assert decode_reason(registry_codec(StubRegistryClient(registered=nameless)), value) == (
        DecodeReason.SCHEMA_MISMATCH
    )

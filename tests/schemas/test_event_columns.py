"""The columnar event decoder against ``AvroCodec.decode_many``: the same rows, errors, bits.

Every batch here is decoded both ways and compared field by field; the batches are random
(seeded) events with awkward values, mixed with values that are cut, padded, re-framed or
flipped, and values from other writer schemas, so that both the fast path and the fallback
run, and the rule that decides between them is checked against fastavro itself.
"""

from __future__ import annotations

import itertools
import random
import re
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from schemas.codec import (
    AvroCodec,
    StaticSchemaIds,
    WriterSchemas,
    codec_for,
    frame_confluent,
    frame_single_object,
    load_schema,
)
from schemas.errors import DecodeReason, RegistryError
from schemas.event_columns import EventColumnDecoder
from schemas.features import EVENT_FEATURE_NAMES
from streams.simulation.simulator import EventSimulator
from tests.support.samples import event_v2

INT32 = (-(2**31), 2**31 - 1)
TEXT = ["", "a", "acct-42", "é", "naïve", "中文", "😀", "\x00", "\x7f", "x" * 63, "y" * 64]
DOUBLES = [0.0, -0.0, 1.5, -2.25, float("nan"), float("inf"), float("-inf"), 5e-324, 2.2e-308]
DOUBLES += [1e308, -1e-310, 3.4e38, 3.5e38, 1e-46]


TYPICAL = {
    "event_id": "e",
    "entity_id": "acct-000042",
    "event_time": 1_714_564_800_123,
    "amount": 12.5,
    "items": 2,
    "session_seconds": 33.0,
    "distance_km": 4.25,
    "is_foreign": True,
    "hour_of_day": 1,
    "device_age_days": 1,
    "merchant_risk": 0.2,
    "segment": "s",
}


def event_v0() -> dict[str, Any]:
    """An older event, before ``segment``: the reader fills in its default."""
    schema = load_schema("event")
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "segment"]
    return schema


def writers() -> WriterSchemas:
    found = WriterSchemas.bundled()
    found.add(event_v0())
    found.add(event_v2())
    return found


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(load_schema("event"), writers=writers(), logical_types=False)


def random_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(TEXT)
    if roll < 0.45:  # past 127 bytes: the length takes a two-byte varint
        return "".join(rng.choice("abcXYZ019-_") for _ in range(rng.randrange(100, 300)))
    if roll < 0.55:
        return "".join(rng.choice("aé中😀\x00z") for _ in range(rng.randrange(1, 40)))
    return "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(0, 40)))


def random_int(rng: random.Random, wide: bool = False) -> int:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice([0, 1, -1, 63, -64, 64, -65, 8191, -8192, *INT32, INT32[0] + 1])
    if roll < 0.4 and wide:  # fastavro writes these into an int field unchecked
        return rng.choice([2**31, -(2**31) - 1, 2**40, -(2**62)])
    return rng.randrange(-(2 ** rng.randrange(1, 32)), 2 ** rng.randrange(1, 32))


def random_long(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice([0, -1, 2**55 - 1, -(2**55), 2**55, 2**62, -(2**62), 2**63 - 1])
    return rng.randrange(-(2 ** rng.randrange(1, 63)), 2 ** rng.randrange(1, 63))


def random_double(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(DOUBLES)
    if roll < 0.5:  # any bit pattern: NaN payloads, subnormals, huge values
        return float(struct.unpack("<d", rng.randbytes(8))[0])
    return rng.uniform(-1e6, 1e6)


def random_event(rng: random.Random, wide: bool = False) -> dict[str, Any]:
    return {
        "event_id": random_text(rng),
        "entity_id": random_text(rng),
        "event_time": random_long(rng),
        "amount": random_double(rng),
        "items": random_int(rng, wide),
        "session_seconds": random_double(rng),
        "distance_km": random_double(rng),
        "is_foreign": rng.random() < 0.5,
        "hour_of_day": random_int(rng, wide),
        "device_age_days": random_int(rng, wide),
        "merchant_risk": random_double(rng),
        "segment": None if rng.random() < 0.3 else random_text(rng),
    }


def spoil(rng: random.Random, value: bytes) -> bytes:
    """``value`` damaged one of the ways a bad message is."""
    roll = rng.randrange(8)
    if roll == 0:
        return value[: rng.randrange(len(value))]  # truncated, possibly to nothing
    if roll == 1:
        return value + rng.randbytes(rng.randrange(1, 5))  # trailing garbage
    if roll == 2:
        return b"\xc3\x02" + value[2:]  # bad magic
    if roll == 3:
        return value[:2] + rng.randbytes(8) + value[10:]  # unknown fingerprint
    if roll == 4:
        return b""
    flipped = bytearray(value)
    # The tail holds the flag, the ints and the union branch of most events: hit it often.
    first = max(10, len(value) - 24) if roll > 5 else 10
    for _ in range(rng.randrange(1, 4)):  # flipped body bytes: varints, flags, UTF-8
        at = rng.randrange(first, len(value))
        flipped[at] = rng.choice(
            [0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xC3, 0xFF, rng.randrange(256)]
        )
    return bytes(flipped)


def assert_same(decoder: EventColumnDecoder, codec: AvroCodec, values: Sequence[bytes]) -> None:
    """The decoder gives exactly decode_many's records and errors, as columns."""
    records, bad = codec.decode_many(values)
    columns, errors = decoder.decode(values)
    got = [(i, type(e), e.reason, _no_address(e.detail)) for i, e in errors]
    assert got == [(i, type(e), e.reason, _no_address(e.detail)) for i, e in bad]
    bad_index = {i for i, _ in bad}
    assert columns.index.dtype == np.int64
    assert columns.index.tolist() == [i for i in range(len(values)) if i not in bad_index]
    assert len(columns) == len(records)
    assert columns.event_ids == [r["event_id"] for r in records]
    assert columns.entity_ids == [r["entity_id"] for r in records]
    assert columns.segments == [r["segment"] for r in records]
    assert all(type(s) is str for s in columns.event_ids + columns.entity_ids)
    assert columns.event_time.dtype == np.int64
    assert columns.event_time.tolist() == [r["event_time"] for r in records]
    with np.errstate(over="ignore", invalid="ignore"):  # the pipeline's own float32 matrix
        rows = [[r[f] for f in EVENT_FEATURE_NAMES] for r in records]
        expected = np.asarray(rows, dtype=np.float32)
    expected = expected.reshape(len(records), len(EVENT_FEATURE_NAMES))
    assert columns.features.dtype == np.float32
    assert columns.features.shape == expected.shape
    # Bitwise: NaN payloads, -0.0 and subnormals must come through exactly as they do today.
    np.testing.assert_array_equal(columns.features.view(np.uint32), expected.view(np.uint32))


def _no_address(detail: str) -> str:
    """fastavro's message names the BytesIO it read, by address: a new one per decode."""
    return re.sub(r" at 0x[0-9a-f]+", " at 0x?", detail)


def test_random_events_and_bad_values_decode_as_decode_many(codec: AvroCodec) -> None:
    rng = random.Random(20240501)
    decoder = EventColumnDecoder(codec)
    older = AvroCodec(event_v0(), writers=writers(), logical_types=False)
    newer = AvroCodec(event_v2(), writers=writers(), logical_types=False)
    seen = slow = 0
    for _ in range(150):
        values = []
        for _ in range(rng.randrange(0, 80)):
            event = random_event(rng, wide=rng.random() < 0.2)
            roll = rng.random()
            if roll < 0.05:
                values.append(older.encode({k: v for k, v in event.items() if k != "segment"}))
            elif roll < 0.1:
                values.append(newer.encode({**event, "channel": random_text(rng)}))
            else:
                value = codec.encode(event)
                values.append(spoil(rng, value) if roll > 0.75 else value)
        assert_same(decoder, codec, values)
        seen, slow = seen + len(values), slow + decoder.fallbacks
    assert 0.2 * seen < slow < 0.8 * seen  # both paths ran, many times


def test_clean_events_take_the_fast_path(codec: AvroCodec) -> None:
    rng = random.Random(7)
    decoder = EventColumnDecoder(codec)
    # Awkward but plain: long and empty strings, int32 limits, 8-byte longs, NaN and inf.
    values = [codec.encode(random_event(rng)) for _ in range(600)]
    values = [v for v in values if _plain(codec.decode(v))]
    assert len(values) > 150
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == 0


def _plain(record: dict[str, Any]) -> bool:
    """ASCII strings, and an event_time whose varint fits in 8 bytes."""
    texts = [record["event_id"], record["entity_id"], record["segment"] or ""]
    return all(t.isascii() for t in texts) and -(2**55) <= record["event_time"] < 2**55


def test_simulated_events_take_the_fast_path(codec: AvroCodec) -> None:
    simulated = itertools.islice(EventSimulator(seed=3, entities=200).events(), 512)
    framing = codec_for("event")  # datetimes in, the same bytes out
    values = [framing.encode(s.event) for s in simulated]
    decoder = EventColumnDecoder(codec)
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == 0
    columns, _ = decoder.decode(values)
    assert len(columns) == 512 and None in columns.segments


def test_every_value_that_is_not_plain_falls_back(codec: AvroCodec) -> None:
    decoder = EventColumnDecoder(codec)
    clean = codec.encode(TYPICAL)
    header, body = clean[:10], clean[10:]
    assert body[:2] == b"\x02e" and clean[-3:] == b"\x02\x02s"
    odd = [
        b"",
        b"\xc3",
        header[:9],
        header,  # no body at all
        clean + b"\x00",
        clean[:-1],
        header + b"\x80" * 9 + b"\x02" + body[1:],  # a 10-byte length
        header + b"\x03" + body[1:],  # a negative length
        header + b"\xfe\x03" + body[1:],  # a length past the end
        header + b"\x02\xff" + body[2:],  # invalid UTF-8
        header + b"\x04\xc3\xa9" + body[2:],  # valid UTF-8: "\u00e9"
        clean[:-3] + b"\x04" + clean[-2:],  # branch 2 of a two-branch union
        clean[:-3] + b"\x01",  # a negative branch
        codec.encode(TYPICAL | {"items": 2**31}),  # fastavro writes it; it is no int32
        codec.encode(TYPICAL | {"hour_of_day": -(2**31) - 1}),
    ]
    plain = [
        clean,
        clean[:-3] + b"\x00",  # a null segment
        header + b"\x82\x00" + body[1:],  # an overlong length, which fastavro reads as 1
        codec.encode(TYPICAL | {"items": INT32[0], "device_age_days": INT32[1]}),
    ]
    assert_same(decoder, codec, odd + plain)
    assert decoder.fallbacks == len(odd)


def test_booleans_other_than_0_or_1_fall_back(codec: AvroCodec) -> None:
    decoder = EventColumnDecoder(codec)
    value = codec.encode(TYPICAL)
    at = len(value) - 3 - 8 - 3  # then two one-byte ints, merchant_risk and the segment
    assert value[at] == 1
    values = [value] + [value[:at] + bytes([b]) + value[at + 1 :] for b in (0, 2, 0x80, 0xFF)]
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == 3


def test_confluent_framing_reads_its_own_id_fast(codec: AvroCodec) -> None:
    event_schema = load_schema("event")
    ids = StaticSchemaIds({7: event_schema, 8: event_v2(), 9: event_v0()})
    confluent = AvroCodec(event_schema, ids=ids, logical_types=False)
    decoder = EventColumnDecoder(confluent)
    events = [TYPICAL | {"event_id": f"evt-{i}", "items": i, "segment": None} for i in range(40)]
    bodies = [codec.encode(e)[10:] for e in events]
    values = [frame_confluent(7, b) for b in bodies]
    values += [frame_confluent(99, bodies[0]), frame_single_object(codec.fingerprint, bodies[0])]
    values += [b"\x00\x00\x00", frame_confluent(7, bodies[1] + b"\x00")]
    older = AvroCodec(event_v0(), ids=ids, logical_types=False)
    values += [older.encode({k: v for k, v in TYPICAL.items() if k != "segment"})]
    assert_same(decoder, confluent, values)
    assert decoder.fallbacks == 5


class _RegistryDown:
    def id_for(self, schema: Any) -> int:
        raise RegistryError("down")

    def schema_for(self, schema_id: int) -> Any:
        raise RegistryError("down")


def test_registry_down_behaves_as_decode_many() -> None:
    down = AvroCodec(load_schema("event"), ids=_RegistryDown(), logical_types=False)
    decoder = EventColumnDecoder(down)
    columns, errors = decoder.decode([b"", b"\x01\x00\x00\x00\x07"])
    assert len(columns) == 0
    assert [(i, e.reason) for i, e in errors] == [
        (0, DecodeReason.EMPTY),
        (1, DecodeReason.BAD_MAGIC),
    ]
    with pytest.raises(RegistryError):
        decoder.decode([frame_confluent(7, b"\x00")])


def test_an_empty_batch_gives_empty_columns(codec: AvroCodec) -> None:
    columns, errors = EventColumnDecoder(codec).decode([])
    assert errors == [] and len(columns) == 0
    assert columns.features.shape == (0, len(EVENT_FEATURE_NAMES))


def test_only_a_primitive_event_codec_is_accepted() -> None:
    with pytest.raises(ValueError, match="logical_types"):
        EventColumnDecoder(codec_for("event"))
    with pytest.raises(ValueError, match="event schema"):
        EventColumnDecoder(codec_for("label", logical_types=False))


def test_a_reader_with_one_more_string_checks_that_string_too(codec: AvroCodec) -> None:
    newer = AvroCodec(event_v2(), writers=writers(), logical_types=False)
    decoder = EventColumnDecoder(newer)
    channels = ["web", "", "appé", "x" * 200]
    values = [newer.encode(TYPICAL | {"channel": c}) for c in channels]
    values += [values[0][:-3] + b"\xff\xfe\x00", codec.encode(TYPICAL)]  # bad UTF-8; older
    assert_same(decoder, newer, values)
    assert decoder.fallbacks == 3

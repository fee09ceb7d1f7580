"""The columnar event decoder against ``AvroCodec.decode_many``: the same rows, errors, bits.

Every batch here is decoded both ways and compared field by field; the batches are random
(seeded) events with awkward values, mixed with values that are cut, padded, re-framed or
flipped, and values from other writer schemas, so that both the fast path and the fallback
run, and the rule that decides between them is checked against fastavro itself. Most batches
are the fraud example's events; small schemas of the test's own cover the other kinds the
fast path reads (float, ``["null", T]``, enum) and a schema it must not walk (an array).
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
    frame_confluent,
    frame_single_object,
)
from schemas.errors import DecodeReason, RegistryError
from schemas.event_columns import EventColumnDecoder
from schemas.project.avro import kind_of
from streams.simulation.simulator import EventSimulator
from tests.support.projects import EVENT_FIELDS, FRAUD, fraud_codec
from tests.support.samples import event_v2, schema_of

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
    schema = schema_of("event")
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "segment"]
    return schema


def writers() -> WriterSchemas:
    found = WriterSchemas.bundled()
    found.add(schema_of("event"))
    found.add(event_v0())
    found.add(event_v2())
    return found


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(schema_of("event"), writers=writers(), logical_types=False)


def fraud_decoder(codec: AvroCodec) -> EventColumnDecoder:
    """The decoder as the worker builds it for the fraud example: its event inputs as
    numbers, and the segment as text."""
    return EventColumnDecoder(codec, numbers=EVENT_FIELDS, text=("segment",))


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
    assert columns.event_ids == [r[decoder.id] for r in records]
    assert columns.entity_ids == [r[decoder.entity] for r in records]
    assert all(type(s) is str for s in columns.event_ids + columns.entity_ids)
    assert columns.event_time.dtype == np.int64
    assert columns.event_time.tolist() == [r[decoder.time] for r in records]
    fields = columns.fields
    assert set(fields.numbers) == set(decoder.numbers)
    for name in decoder.numbers:
        raw = [r[name] for r in records]
        present = np.array([v is not None for v in raw], dtype=bool)
        with np.errstate(over="ignore", invalid="ignore"):
            expected = np.array([np.nan if v is None else float(v) for v in raw], np.float64)
        got_numbers = fields.numbers[name]
        assert got_numbers.dtype == np.float64 and got_numbers.shape == (len(records),), name
        # Bitwise: NaN payloads, -0.0 and subnormals must come through exactly as fastavro's.
        np.testing.assert_array_equal(got_numbers.view(np.uint64), expected.view(np.uint64))
        got_present = fields.present.get(name, np.ones(len(records), dtype=bool))
        assert got_present.tolist() == present.tolist(), name
    assert set(fields.text) == set(decoder.text)
    for name in decoder.text:
        assert fields.text[name] == [r[name] for r in records], name
    if codec.name == FRAUD.event_schema["name"] or codec.name.endswith(".Event"):
        _assert_same_matrix(columns.fields, records)


def _assert_same_matrix(fields: Any, records: list[dict[str, Any]]) -> None:
    """The fraud layout's event columns are the pipeline's float32 of the records' fields."""
    if not set(EVENT_FIELDS) <= set(fields.numbers):
        return
    n = len(records)
    x = FRAUD.layout.matrix(fields, np.tile(FRAUD.feature_defaults, (n, 1)))
    with np.errstate(over="ignore", invalid="ignore"):
        rows = [[r[f] for f in EVENT_FIELDS] for r in records]
        expected = np.asarray(rows, dtype=np.float32).reshape(n, len(EVENT_FIELDS))
    events = x[:, : len(EVENT_FIELDS)]
    assert x.dtype == np.float32 and events.shape == expected.shape
    np.testing.assert_array_equal(events.view(np.uint32), expected.view(np.uint32))


def _no_address(detail: str) -> str:
    """fastavro's message names the BytesIO it read, by address: a new one per decode."""
    return re.sub(r" at 0x[0-9a-f]+", " at 0x?", detail)


def test_random_events_and_bad_values_decode_as_decode_many(codec: AvroCodec) -> None:
    rng = random.Random(20240501)
    decoder = fraud_decoder(codec)
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
    decoder = fraud_decoder(codec)
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
    simulated = itertools.islice(EventSimulator(FRAUD, seed=3, entities=200).events(), 512)
    framing = fraud_codec("event")  # datetimes in, the same bytes out
    values = [framing.encode(s.event) for s in simulated]
    decoder = fraud_decoder(codec)
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == 0
    columns, _ = decoder.decode(values)
    assert len(columns) == 512 and None in columns.fields.text["segment"]


def test_every_value_that_is_not_plain_falls_back(codec: AvroCodec) -> None:
    decoder = fraud_decoder(codec)
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
    decoder = fraud_decoder(codec)
    value = codec.encode(TYPICAL)
    at = len(value) - 3 - 8 - 3  # then two one-byte ints, merchant_risk and the segment
    assert value[at] == 1
    values = [value] + [value[:at] + bytes([b]) + value[at + 1 :] for b in (0, 2, 0x80, 0xFF)]
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == 3


def test_confluent_framing_reads_its_own_id_fast(codec: AvroCodec) -> None:
    event_schema = schema_of("event")
    ids = StaticSchemaIds({7: event_schema, 8: event_v2(), 9: event_v0()})
    confluent = AvroCodec(event_schema, ids=ids, logical_types=False)
    decoder = fraud_decoder(confluent)
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
    down = AvroCodec(schema_of("event"), ids=_RegistryDown(), logical_types=False)
    decoder = fraud_decoder(down)
    columns, errors = decoder.decode([b"", b"\x01\x00\x00\x00\x07"])
    assert len(columns) == 0
    assert [(i, e.reason) for i, e in errors] == [
        (0, DecodeReason.EMPTY),
        (1, DecodeReason.BAD_MAGIC),
    ]
    with pytest.raises(RegistryError):
        decoder.decode([frame_confluent(7, b"\x00")])


def test_an_empty_batch_gives_empty_columns(codec: AvroCodec) -> None:
    columns, errors = fraud_decoder(codec).decode([])
    assert errors == [] and len(columns) == 0
    assert {k: v.shape for k, v in columns.fields.numbers.items()} == dict.fromkeys(
        EVENT_FIELDS, (0,)
    )
    assert columns.fields.text == {"segment": []}
    x = FRAUD.layout.matrix(columns.fields, np.empty((0, len(FRAUD.feature_names)), np.float32))
    assert x.shape == (0, FRAUD.layout.width)


def test_only_a_primitive_event_codec_is_accepted() -> None:
    with pytest.raises(ValueError, match="logical_types"):
        EventColumnDecoder(fraud_codec("event"))
    with pytest.raises(ValueError, match=r"'event_time' is not a (long or int|int or long) field"):
        EventColumnDecoder(fraud_codec("label", logical_types=False))
    with pytest.raises(ValueError, match="has no field 'channel'"):
        EventColumnDecoder(fraud_codec("event", logical_types=False), text=("channel",))


def test_a_reader_with_one_more_string_checks_that_string_too(codec: AvroCodec) -> None:
    newer = AvroCodec(event_v2(), writers=writers(), logical_types=False)
    decoder = fraud_decoder(newer)
    channels = ["web", "", "appé", "x" * 200]
    values = [newer.encode(TYPICAL | {"channel": c}) for c in channels]
    values += [values[0][:-3] + b"\xff\xfe\x00", codec.encode(TYPICAL)]  # bad UTF-8; older
    assert_same(decoder, newer, values)
    assert decoder.fallbacks == 3


# -- the other kinds the fast path reads, on small schemas of the test's own ----------------

FLOATS = [0.0, -0.0, 1.5, float("nan"), float("inf"), float("-inf"), 1e-45, 1.17549e-38]
FLOATS += [3.4028234663852886e38, -2.5, 0.1]
CHANNELS = ["web", "app", "phone"]


def order_schema(*fields: dict[str, Any]) -> dict[str, Any]:
    """An event of another shape: its id, entity and time under other names, then ``fields``."""
    return {
        "type": "record",
        "name": "Order",
        "namespace": "dev.test",
        "fields": [
            {"name": "order_id", "type": "string"},
            {"name": "courier_id", "type": "string"},
            {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            *fields,
        ],
    }


def order_decoder(
    codec: AvroCodec, numbers: Sequence[str] = (), text: Sequence[str] = ()
) -> EventColumnDecoder:
    return EventColumnDecoder(
        codec, id="order_id", entity="courier_id", time="placed_at", numbers=numbers, text=text
    )


def random_float(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(FLOATS)
    if roll < 0.5:  # any float32 bit pattern: NaN payloads, subnormals
        return float(struct.unpack("<f", rng.randbytes(4))[0])
    return float(np.float32(rng.uniform(-1e6, 1e6)))


def random_value(rng: random.Random, avro_type: Any) -> Any:
    """A random value of one field type of the schemas below."""
    if isinstance(avro_type, list):  # ["null", T]
        return None if rng.random() < 0.35 else random_value(rng, avro_type[1])
    if isinstance(avro_type, dict):
        if avro_type["type"] == "enum":
            return rng.choice(avro_type["symbols"])
        if avro_type["type"] == "array":
            return [random_double(rng) for _ in range(rng.randrange(0, 4))]
        return random_long(rng)  # a timestamp, as its long
    return {
        "string": random_text,
        "int": random_int,
        "long": random_long,
        "float": random_float,
        "double": random_double,
        "boolean": lambda r: r.random() < 0.5,
    }[avro_type](rng)


def random_record(rng: random.Random, schema: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: random_value(rng, f["type"]) for f in schema["fields"]}


def clean(record: dict[str, Any]) -> bool:
    """Whether the fast path must read ``record``: ASCII strings, longs within 8 bytes."""
    texts = [v for v in record.values() if isinstance(v, str)]
    longs = [v for v in record.values() if isinstance(v, int) and not isinstance(v, bool)]
    return all(t.isascii() for t in texts) and all(-(2**55) <= v < 2**55 for v in longs)


def mixed_batches(
    codec: AvroCodec, decoder: EventColumnDecoder, seed: int, batches: int = 60
) -> tuple[int, int]:
    """Random batches, a quarter of the values spoiled, each compared with decode_many;
    (values, fallbacks) over all of them."""
    rng = random.Random(seed)
    seen = slow = 0
    for _ in range(batches):
        values = []
        for _ in range(rng.randrange(0, 60)):
            value = codec.encode(random_record(rng, codec.schema))
            values.append(spoil(rng, value) if rng.random() < 0.25 else value)
        assert_same(decoder, codec, values)
        seen, slow = seen + len(values), slow + decoder.fallbacks
    return seen, slow


def clean_values(codec: AvroCodec, seed: int, n: int = 800) -> list[bytes]:
    rng = random.Random(seed)
    records = [random_record(rng, codec.schema) for _ in range(n)]
    return [codec.encode(r) for r in records if clean(r)]


FLOAT_SCHEMA = order_schema(
    {"name": "weight", "type": "float"},
    {"name": "distance_km", "type": "double"},
    {"name": "items", "type": "int"},
)


def test_float_fields_read_four_bytes_as_decode_many() -> None:
    codec = AvroCodec(FLOAT_SCHEMA, logical_types=False)
    decoder = order_decoder(codec, numbers=("weight", "distance_km", "items"))
    values = clean_values(codec, 11)
    assert len(values) > 150
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == 0
    seen, slow = mixed_batches(codec, decoder, 12)
    assert 0 < slow < seen
    # The float sits 4 bytes before the double: a float read as 8 bytes would shift it.
    value = codec.encode({"order_id": "o", "courier_id": "c", "placed_at": 5, "weight": 2.5,
                          "distance_km": -1.25, "items": 3})  # fmt: skip
    columns, _ = decoder.decode([value, value[:-1], value + b"\x00"])
    assert columns.fields.numbers["weight"].tolist() == [2.5]
    assert columns.fields.numbers["distance_km"].tolist() == [-1.25]
    assert columns.fields.numbers["items"].tolist() == [3.0]


OPTIONAL_SCHEMA = order_schema(
    {"name": "tip", "type": ["null", "double"], "default": None},
    {"name": "items", "type": ["null", "int"], "default": None},
    {"name": "code", "type": ["null", "long"], "default": None},
    {"name": "weight", "type": ["null", "float"], "default": None},
    {"name": "is_express", "type": ["null", "boolean"], "default": None},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "store_id", "type": ["null", "string"], "default": None},  # read by nobody
)
OPTIONAL_NUMBERS = ("tip", "items", "code", "weight", "is_express")


def test_optional_numbers_and_strings_read_as_decode_many() -> None:
    codec = AvroCodec(OPTIONAL_SCHEMA, logical_types=False)
    decoder = order_decoder(codec, numbers=OPTIONAL_NUMBERS, text=("note",))
    values = clean_values(codec, 21)
    assert len(values) > 150
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == 0
    columns, _ = decoder.decode(values)
    for name in OPTIONAL_NUMBERS:  # both branches ran for every field
        assert 0 < columns.fields.present[name].sum() < len(values), name
    assert None in columns.fields.text["note"]
    seen, slow = mixed_batches(codec, decoder, 22)
    assert 0 < slow < seen


def test_optional_values_absent_are_nan_and_not_present() -> None:
    codec = AvroCodec(OPTIONAL_SCHEMA, logical_types=False)
    decoder = order_decoder(codec, numbers=OPTIONAL_NUMBERS, text=("note",))
    head = {"order_id": "o-1", "courier_id": "c-1", "placed_at": 1_714_564_800_123}
    full = head | {"tip": 1.5, "items": -3, "code": 2**40, "weight": 0.5, "is_express": False,
                   "note": "hi", "store_id": "s-01"}  # fmt: skip
    empty = head | dict.fromkeys([*OPTIONAL_NUMBERS, "note", "store_id"])
    value = codec.encode(full)
    # The last union: branch 1 (zig-zag 2), then "s-01" and its length (zig-zag 8).
    assert value[-6:] == b"\x02\x08s-01"
    odd = [
        value[:-6] + b"\x04" + value[-5:],  # branch 2 of a two-branch union
        value[:-6] + b"\x01" + value[-5:],  # a negative branch
        value[:-6] + b"\x00" + value[-5:],  # null, then the string's bytes left over
    ]
    plain = [value[:-6] + b"\x00"]  # the same with a null store_id
    values = [value, codec.encode(empty), *odd, *plain]
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == len(odd)
    columns, _ = decoder.decode(values[:2])
    numbers, present = columns.fields.numbers, columns.fields.present
    assert [numbers[n][0] for n in OPTIONAL_NUMBERS] == [1.5, -3.0, float(2**40), 0.5, 0.0]
    assert all(np.isnan(numbers[n][1]) for n in OPTIONAL_NUMBERS)
    assert all(present[n].tolist() == [True, False] for n in OPTIONAL_NUMBERS)
    assert columns.fields.text["note"] == ["hi", None]


ENUM_SCHEMA = order_schema(
    {"name": "channel", "type": {"type": "enum", "name": "Channel", "symbols": CHANNELS}},
    {"name": "distance_km", "type": "double"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["new", "paid"]}},
)


def test_enum_fields_read_their_symbols_as_decode_many() -> None:
    codec = AvroCodec(ENUM_SCHEMA, logical_types=False)
    decoder = order_decoder(codec, numbers=("distance_km",), text=("channel",))
    values = clean_values(codec, 31)
    assert len(values) > 150
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == 0
    columns, _ = decoder.decode(values)
    assert set(columns.fields.text["channel"]) == set(CHANNELS)
    seen, slow = mixed_batches(codec, decoder, 32)
    assert 0 < slow < seen
    head = {"order_id": "o", "courier_id": "c", "placed_at": 7, "distance_km": 1.0}
    value = codec.encode(head | {"channel": "phone", "status": "paid"})
    assert value[-1:] == b"\x02" and value[-10:-9] == b"\x04"  # the indexes 1 and 2
    odd = [
        value[:-1] + b"\x04",  # index 2 of a two-symbol enum
        value[:-1] + b"\x01",  # index -1
        value[:-10] + b"\x06" + value[-9:],  # index 3 of three symbols
        value[:-10] + b"\x80\x80\x80\x80\x80\x01" + value[-9:],  # a varint too long for an int
    ]
    assert_same(decoder, codec, [value, *odd])
    assert decoder.fallbacks == len(odd)


def test_a_schema_with_an_array_goes_through_the_codec_whole() -> None:
    schema = order_schema(
        {"name": "distance_km", "type": "double"},
        {"name": "legs", "type": {"type": "array", "items": "double"}},
        {"name": "note", "type": ["null", "string"], "default": None},
    )
    codec = AvroCodec(schema, logical_types=False)
    decoder = order_decoder(codec, numbers=("distance_km",), text=("note",))
    assert not decoder.plain
    values = clean_values(codec, 41)
    assert len(values) > 150
    assert_same(decoder, codec, values)
    assert decoder.fallbacks == len(values)  # every value: the walk cannot step over an array
    rng = random.Random(42)
    for _ in range(40):
        batch = [codec.encode(random_record(rng, schema)) for _ in range(rng.randrange(0, 30))]
        batch = [spoil(rng, v) if rng.random() < 0.3 else v for v in batch]
        assert_same(decoder, codec, batch)
        assert decoder.fallbacks == len(batch)


def test_kinds_of_the_test_schemas() -> None:
    """The schemas above hold the kinds they are meant to (the walk reads these names)."""
    kinds = [kind_of(f["type"]) for f in OPTIONAL_SCHEMA["fields"][3:]]
    assert kinds == ["nullable-double", "nullable-int", "nullable-long", "nullable-float",
                     "nullable-boolean", "nullable-string", "nullable-string"]  # fmt: skip
    assert [kind_of(f["type"]) for f in ENUM_SCHEMA["fields"][3:]] == ["enum", "double", "enum"]

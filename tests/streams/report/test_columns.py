"""streams/report/columns.py: the chunked Prediction decoder gives exactly what decoding each
value alone with the codec gives (fast and slow paths, undecodable values counted), and the
byte-slice hash and the varint reader it is built on."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import pytest

from schemas.codec import SCHEMA_DIR, AvroCodec, codec_for
from schemas.errors import DecodeError
from schemas.prediction_writer import PredictionWriter, avro_long
from schemas.wire import hash_slices, hash_strings, varints, words_of
from streams.report.columns import Columns, PredictionDecoder, Vocabulary
from tests.support.projects import fraud_codec

CODEC = codec_for("prediction", logical_types=False)
T0 = 1_790_000_000_000
DECISIONS = ("approve", "review", "decline")
SCORES = (0.0, -0.0, 1.0, 0.5, 5e-324, 1e308, float("nan"), 0.1 + 0.2)
ROLES = ("primary", "canary", "shadow")


def record(rng: np.random.Generator, i: int, **changes: Any) -> dict[str, Any]:
    out = {
        "event_id": str(uuid.UUID(bytes=rng.bytes(16))),
        "entity_id": f"acct-{int(rng.integers(1000))}",
        "model_name": "scorer",
        "model_version": str(1 + i % 2),
        "score": SCORES[i % len(SCORES)] if i < len(SCORES) else float(rng.random()),
        "decision": DECISIONS[i % 3],
        "features_missing": bool(i % 5 == 0),
        "event_time": T0 + int(rng.integers(-10**6, 10**6)),
        "scored_at": T0 + 10**6 + i,
        "timings": {"decode_ms": 0.25, "features_ms": 1.5,
                    "infer_ms": float(rng.random() * 20), "publish_ms": 0.125},
        "role": ROLES[i % 3],
    }  # fmt: skip
    return out | changes


def decoder() -> PredictionDecoder:
    return PredictionDecoder(CODEC, Vocabulary(), Vocabulary())


def check(dec: PredictionDecoder, values: list[bytes], partitions: np.ndarray) -> Columns:
    """Decodes the chunk and asserts it equals decoding each value alone, in input order."""
    expected, rows = [], []
    for i, value in enumerate(values):
        try:
            expected.append(CODEC.decode(value))
            rows.append(i)
        except DecodeError:
            pass
    before = dec.undecodable
    cols = dec.decode(values, partitions)
    assert dec.undecodable - before == len(values) - len(rows)
    assert len(cols) == len(expected)
    assert cols.key.tolist() == hash_strings([r["event_id"] for r in expected]).tolist()
    models = [f"{r['model_name']}:{r['model_version']}" for r in expected]
    assert [dec.models.names[c] for c in cols.model.tolist()] == models
    assert [dec.decisions.names[c] for c in cols.decision.tolist()] == [
        r["decision"] for r in expected
    ]
    scores = np.array([r["score"] for r in expected], dtype=np.float64)
    assert cols.score.dtype == np.float64 and cols.score.tobytes() == scores.tobytes()
    assert cols.missing.tolist() == [r["features_missing"] for r in expected]
    assert cols.event_time.tolist() == [r["event_time"] for r in expected]
    assert cols.scored_at.tolist() == [r["scored_at"] for r in expected]
    infer = np.array([r["timings"]["infer_ms"] for r in expected], dtype=np.float32)
    assert cols.infer_ms.dtype == np.float32 and cols.infer_ms.tobytes() == infer.tobytes()
    assert cols.partition.tolist() == partitions[rows].tolist()
    assert [dec.roles.names[c] for c in cols.role.tolist()] == [r["role"] for r in expected]
    return cols


def parts(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 12, n).astype(np.int16)


def test_ordinary_values_match_the_codec() -> None:
    rng = np.random.default_rng(1)
    values = [CODEC.encode(record(rng, i)) for i in range(300)]
    dec = decoder()
    check(dec, values, parts(300))
    assert sorted(dec.models.names) == ["scorer:1", "scorer:2"]
    assert sorted(dec.decisions.names) == sorted(DECISIONS)
    assert dec.undecodable == 0


def test_values_of_the_workers_writer_match_the_codec() -> None:
    rng = np.random.default_rng(2)
    writer = PredictionWriter(CODEC)
    n = 50
    ids = [str(uuid.UUID(bytes=rng.bytes(16))) for _ in range(n)]
    event_parts = writer.event_parts(ids, [f"a{i}" for i in range(n)], [T0 + i for i in range(n)])
    timings = {"decode_ms": 0.5, "features_ms": 1.25, "infer_ms": 3.3, "publish_ms": 0.0}
    values = writer.encode(
        event_parts, rng.random(n).tolist(), [DECISIONS[i % 3] for i in range(n)],
        [i % 7 == 0 for i in range(n)], "scorer", "12", T0 + 999, timings,
    )  # fmt: skip
    dec = decoder()
    cols = check(dec, values, parts(n))
    assert cols.key.tolist() == hash_strings(ids).tolist()
    canary = writer.encode(
        event_parts[:3], [0.5] * 3, ["review"] * 3, [False] * 3, "scorer", "13", T0, timings,
        role="canary",
    )  # fmt: skip
    cols = check(dec, canary + values[:2], parts(5))
    assert [dec.roles.names[c] for c in cols.role.tolist()] == ["canary"] * 3 + ["primary"] * 2


class Counting(AvroCodec):
    """The prediction codec, counting the values it decodes one by one (the slow path)."""

    calls = 0

    def decode(self, value: bytes) -> dict[str, Any]:
        Counting.calls += 1
        return super().decode(value)


def test_every_current_value_takes_the_fast_path_and_roles_keep_fixed_codes() -> None:
    rng = np.random.default_rng(12)
    values = [CODEC.encode(record(rng, i)) for i in range(30)]
    codec = Counting(CODEC.schema, logical_types=False)
    Counting.calls = 0
    dec = PredictionDecoder(codec, Vocabulary(), Vocabulary())
    cols = dec.decode(values, parts(30))
    assert Counting.calls == 0
    assert dec.roles.names[:3] == list(ROLES)
    assert cols.role.tolist() == [i % 3 for i in range(30)]


def test_values_of_the_released_schema_take_the_slow_path_and_read_as_primary() -> None:
    """Predictions written before ``role`` existed carry the released schema's fingerprint,
    never the current codec's header, so the fast path cannot misread them."""
    released = AvroCodec(
        json.loads((SCHEMA_DIR / "released" / "prediction.avsc").read_text()),
        logical_types=False,
    )
    assert released.frame_header() != CODEC.frame_header()
    rng = np.random.default_rng(13)
    old = [released.encode(record(rng, i)) for i in range(4)]  # role: not in that schema
    new = [CODEC.encode(record(rng, i, role="canary")) for i in range(4)]
    codec = Counting(CODEC.schema, logical_types=False)
    Counting.calls = 0
    dec = PredictionDecoder(codec, Vocabulary(), Vocabulary())
    cols = dec.decode([old[0], new[0], old[1], new[1], *old[2:], *new[2:]], parts(8))
    assert Counting.calls == 4  # the old ones only
    roles = [dec.roles.names[c] for c in cols.role.tolist()]
    assert roles == ["primary", "canary"] * 2 + ["primary"] * 2 + ["canary"] * 2
    assert dec.undecodable == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"event_id": "e" * 70},  # two-byte string length
        {"entity_id": "x" * 64},  # the first length that takes two bytes
        {"decision": "d" * 100},
        {"role": "r" * 64},
        {"role": ""},
        {"role": "é"},  # not ASCII: the codec's UTF-8 check
        {"event_time": -1_234_567},
        {"event_time": -(2**55)},  # the largest magnitude that still fits 8 varint bytes
        {"scored_at": 2**60},  # a 9-byte varint
        {"event_time": -(2**63)},
    ],
)
def test_values_at_or_off_the_fast_path_edge_match_the_codec(changes: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    values = [CODEC.encode(record(rng, 0, **changes)), CODEC.encode(record(rng, 1))]
    check(decoder(), values, np.array([4, 7], dtype=np.int16))
    check(decoder(), values[:1], np.array([4], dtype=np.int16))


def test_mixed_fast_and_slow_values_keep_their_order() -> None:
    rng = np.random.default_rng(4)
    values = []
    for i in range(200):
        slow = {"event_id": f"{i}-" + "s" * 70} if i % 3 == 0 else {}
        slow |= {"scored_at": 2**60 + i} if i % 7 == 0 else {}
        values.append(CODEC.encode(record(rng, i, **slow)))
    cols = check(decoder(), values, parts(200, seed=4))
    assert len(cols) == 200


def test_undecodable_values_are_counted_and_left_out() -> None:
    rng = np.random.default_rng(5)
    good = [CODEC.encode(record(rng, i)) for i in range(12)]
    label = fraud_codec("label", logical_types=False).encode(
        {"event_id": "e", "entity_id": "a", "label": 1, "observed_at": T0}
    )
    bad = [
        CODEC.frame_header() + rng.bytes(60),  # garbage after a valid header
        good[0][:-3],  # truncated
        b"",
        label,  # another schema
        good[1] + b"\x00",  # a trailing byte
    ]
    for value in bad:
        with pytest.raises(DecodeError):
            CODEC.decode(value)
    values = [good[0], bad[0], good[1], good[2], bad[1], bad[2], good[3], bad[3], bad[4]]
    values += good[4:]
    partitions = parts(len(values), seed=5)
    dec = decoder()
    cols = check(dec, values, partitions)
    assert dec.undecodable == len(bad)
    assert len(cols) == len(good)
    check(dec, bad, partitions[: len(bad)])
    assert dec.undecodable == 2 * len(bad)


def test_an_empty_chunk_decodes_to_no_rows() -> None:
    assert len(decoder().decode([], np.empty(0, np.int16))) == 0


def corrupt(value: bytes, old: bytes, new: bytes) -> bytes:
    assert value.count(old) == 1
    return value.replace(old, new)


def test_invalid_utf8_is_undecodable_as_with_the_codec() -> None:
    value = CODEC.encode(record(np.random.default_rng(6), 0, model_name="scorer"))
    bad = corrupt(value, b"scorer", b"sc\xffrer")  # same length, invalid UTF-8
    with pytest.raises(DecodeError):
        CODEC.decode(bad)
    dec = decoder()
    assert len(dec.decode([bad])) == 0
    assert dec.undecodable == 1


def test_a_negative_string_length_is_undecodable_as_with_the_codec() -> None:
    value = CODEC.encode(record(np.random.default_rng(7), 0, entity_id="acct"))
    bad = corrupt(value, b"\x08acct", b"\x09acct")  # zig-zag 9 is a length of -5
    with pytest.raises(DecodeError):
        CODEC.decode(bad)
    dec = decoder()
    assert len(dec.decode([bad])) == 0
    assert dec.undecodable == 1


def padded(chunks: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.array([len(c) for c in chunks], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    return np.frombuffer(b"".join(chunks) + bytes(8), dtype=np.uint8), starts, lengths


def test_hash_slices_equals_hash_strings_at_any_length_and_offset() -> None:
    rng = np.random.default_rng(8)
    texts = ["".join(chr(c) for c in rng.integers(97, 123, n)) for n in (0, 1, 7, 8, 9, 36, 63)]
    texts += ["é€" * 5, "a" * 200]
    prefix = b"xyz"  # not word-aligned
    data, starts, lengths = padded([prefix, *(t.encode() for t in texts)])
    got = hash_slices(data, starts[1:], lengths[1:])
    assert got.dtype == np.uint64
    assert got.tolist() == hash_strings(texts).tolist()
    for t, h in zip(texts, got.tolist(), strict=True):  # one at a time, alone
        assert hash_strings([t]).tolist() == [h]
    assert len(set(got.tolist())) == len(texts)


def test_hash_tells_apart_strings_that_share_bytes() -> None:
    texts = ["", "\x00", "a", "a\x00", "a" * 8, "a" * 8 + "\x00", "ab", "ba", "a" * 9]
    assert len(set(hash_strings(texts).tolist())) == len(texts)


def test_no_collisions_over_100k_uuids() -> None:
    rng = np.random.default_rng(9)
    ids = [str(uuid.UUID(bytes=rng.bytes(16))) for _ in range(100_000)]
    assert len(set(ids)) == 100_000
    assert len(np.unique(hash_strings(ids))) == 100_000


def test_varints_read_zigzag_longs_of_one_to_eight_bytes() -> None:
    numbers = [0, -1, 1, 63, -64]
    for k in range(2, 9):  # the extremes that take exactly k bytes
        numbers += [2 ** (7 * k - 1) - 1, -(2 ** (7 * k - 1)), 2 ** (7 * (k - 1) - 1)]
    encoded = [avro_long(n) for n in numbers]
    assert {len(e) for e in encoded} == set(range(1, 9))
    data, starts, lengths = padded([b"\x01", *encoded])
    values, ends, fits = varints(words_of(data), starts[1:])
    assert fits.all()
    assert values.dtype == np.int64 and values.tolist() == numbers
    assert ends.tolist() == (starts[1:] + lengths[1:]).tolist()


def test_varints_of_nine_or_ten_bytes_do_not_fit() -> None:
    numbers = [2**55, -(2**55) - 1, 2**62, -(2**63), 2**63 - 1]
    encoded = [avro_long(n) for n in numbers]
    assert [len(e) for e in encoded] == [9, 9, 10, 10, 10]
    data, starts, _ = padded([*encoded, avro_long(5)])
    _, _, fits = varints(words_of(data), starts)
    assert fits.tolist() == [False] * 5 + [True]

"""streams/report/labels.py: the chunked Label decoder gives the (event_id hash, label) of
each value that decodes alone with the codec, on the fast and the slow path, and counts the
values that do not decode."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import numpy as np
import pytest

from schemas.codec import codec_for
from schemas.errors import DecodeError
from schemas.wire import hash_strings
from streams.report.labels import LabelDecoder
from tests.support.projects import fraud_codec

CODEC = fraud_codec("label", logical_types=False)
T0 = 1_790_000_000_000


def label(rng: np.random.Generator, **changes: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(bytes=rng.bytes(16))),
        "entity_id": f"acct-{int(rng.integers(1000))}",
        "label": int(rng.integers(2)),
        "observed_at": T0 + int(rng.integers(10**7)),
    } | changes


def expected(values: list[bytes]) -> tuple[list[tuple[int, int]], int]:
    """(key, label) of each value decoded alone, and how many do not decode."""
    pairs, bad = [], 0
    for value in values:
        try:
            r = CODEC.decode(value)
        except DecodeError:
            bad += 1
            continue
        pairs.append((int(hash_strings([r["event_id"]])[0]), r["label"]))
    return pairs, bad


def check(values: list[bytes]) -> LabelDecoder:
    want, bad = expected(values)
    decoder = LabelDecoder(CODEC)
    keys, labels = decoder.decode(values)
    assert keys.dtype == np.uint64 and labels.dtype == np.int8
    assert len(keys) == len(labels) == len(want)
    assert Counter(zip(keys.tolist(), labels.tolist(), strict=True)) == Counter(want)
    assert decoder.undecodable == bad
    return decoder


def test_ordinary_labels_match_the_codec_in_input_order() -> None:
    rng = np.random.default_rng(1)
    values = [CODEC.encode(label(rng)) for _ in range(500)]
    want, _ = expected(values)
    keys, labels = LabelDecoder(CODEC).decode(values)
    assert list(zip(keys.tolist(), labels.tolist(), strict=True)) == want  # all fast: in order
    assert {lbl for _, lbl in want} == {0, 1}


@pytest.mark.parametrize(
    "changes",
    [
        {"event_id": "e" * 70},  # a two-byte length
        {"entity_id": "x" * 64},
        {"observed_at": 2**60},  # a 9-byte varint
        {"observed_at": -(2**63)},
        {"observed_at": -5},
        {"event_id": ""},
    ],
)
def test_slow_and_edge_values_match_the_codec(changes: dict[str, Any]) -> None:
    rng = np.random.default_rng(2)
    check([CODEC.encode(label(rng, **changes))])
    check([CODEC.encode(label(rng)) for _ in range(5)] + [CODEC.encode(label(rng, **changes))])


def test_mixed_chunk_gives_every_label_once() -> None:
    rng = np.random.default_rng(3)
    values = []
    for i in range(300):
        changes = {"event_id": f"{i}-" + "s" * 70} if i % 4 == 0 else {}
        values.append(CODEC.encode(label(rng, **changes)))
    decoder = check(values)
    assert decoder.undecodable == 0


def test_undecodable_values_are_counted() -> None:
    rng = np.random.default_rng(4)
    good = [CODEC.encode(label(rng)) for _ in range(10)]
    prediction = codec_for("prediction", logical_types=False).encode({
        "event_id": "e", "entity_id": "a", "model_name": "m", "model_version": "1",
        "score": 0.5, "decision": "approve", "features_missing": False, "event_time": T0,
        "scored_at": T0, "timings": {"decode_ms": 0.0, "features_ms": 0.0, "infer_ms": 0.0,
                                     "publish_ms": 0.0},
    })  # fmt: skip
    bad = [
        CODEC.frame_header() + rng.bytes(20),
        good[0][:-1],
        b"",
        b"\xc3",
        prediction,
        good[1] + b"\x02",
    ]
    for value in bad:
        with pytest.raises(DecodeError):
            CODEC.decode(value)
    values = [v for pair in zip(good, bad, strict=False) for v in pair] + good[len(bad) :]
    decoder = check(values)
    assert decoder.undecodable == len(bad)
    assert check(bad).undecodable == len(bad)


def test_an_empty_chunk() -> None:
    keys, labels = LabelDecoder(CODEC).decode([])
    assert len(keys) == len(labels) == 0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"\x06abc", b"\x06a\xffc"),  # invalid UTF-8 in the event_id
        (b"\x06abc", b"\x07abc"),  # zig-zag 7: a length of -4
    ],
    ids=["invalid-utf8", "negative-length"],
)
def test_a_corrupt_event_id_is_undecodable_as_with_the_codec(old: bytes, new: bytes) -> None:
    value = CODEC.encode({"event_id": "abc", "entity_id": "acct", "label": 1, "observed_at": T0})
    assert value.count(old) == 1
    bad = value.replace(old, new)
    with pytest.raises(DecodeError):
        CODEC.decode(bad)
    decoder = LabelDecoder(CODEC)
    keys, _ = decoder.decode([bad])
    assert len(keys) == 0
    assert decoder.undecodable == 1

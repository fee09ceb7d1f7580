"""Prediction values decoded a chunk at a time into numpy columns, without a dict per record.

The report reads two records per joined pair (primary and shadow): ten million pairs are
twenty million values, and fastavro's ``schemaless_reader`` at ~3 µs a value would make
decoding, not Kafka, the report's limit. A Prediction body is short strings, a double, a
boolean, two varint longs and four doubles, so a chunk of values is decoded with numpy
gathers over the joined bytes (schemas/prediction.avsc, in field order)::

    event_id entity_id model_name model_version   string: zig-zag varint length, bytes
    score                                         8-byte little-endian double
    decision                                      string
    features_missing                              1 byte
    event_time scored_at                          zig-zag varint longs
    timings: decode_ms features_ms infer_ms publish_ms   4 doubles

A value takes the fast path when it starts with this codec's own header and every string is
shorter than 64 bytes (a one-byte length); any other value (an older writer's schema, a long
string, a malformed body) goes through :meth:`AvroCodec.decode`, so the result is the same
as decoding each value alone, and a value that does not decode is counted, not fatal.

Strings become integers: ``event_id`` a 64-bit hash (:func:`hash_slices`; the join key), the
model and the decision a code in a :class:`Vocabulary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.codec import AvroCodec
from schemas.errors import DecodeError

_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SEED = np.uint64(0xCBF29CE484222325)
_N_STRINGS_BEFORE_SCORE = 4


def hash_slices(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each byte slice ``data[start : start + length]``, vectorised by
    length: slices of one length are gathered as a matrix and mixed 8 bytes at a time.
    (At ten million distinct ids the chance of any collision is about 3 in a million.)"""
    out = np.empty(len(starts), dtype=np.uint64)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        width = int(length) + (-int(length)) % 8
        block = np.zeros((len(rows), width), dtype=np.uint8)
        if length:
            block[:, :length] = data[starts[rows, None] + np.arange(length)]
        words = block.view("<u8")
        h = np.full(len(rows), _SEED ^ np.uint64(length), dtype=np.uint64)
        for j in range(words.shape[1]):
            h = (h ^ words[:, j]) * _PRIME
            h ^= h >> np.uint64(31)
        out[rows] = h * _MIX
    return out


def hash_strings(texts: Sequence[str]) -> np.ndarray:
    """:func:`hash_slices` of each string's UTF-8 bytes: the same key a decoded value gets."""
    encoded = [t.encode() for t in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(encoded) else lengths
    data = np.frombuffer(b"".join(encoded) + b"\0", dtype=np.uint8)
    return hash_slices(data, starts, lengths)


class Vocabulary:
    """Strings ↔ small integer codes, shared by every chunk of one report."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, name: str) -> int:
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = len(self.names)
            self.names.append(name)
        return code


@dataclass(slots=True)
class Columns:
    """One chunk of predictions, a row per value that decoded."""

    key: np.ndarray  # uint64 hash of event_id
    model: np.ndarray  # int16 code of "name:version" in the models vocabulary
    score: np.ndarray  # float64
    decision: np.ndarray  # int8 code in the decisions vocabulary
    missing: np.ndarray  # bool: features_missing
    event_time: np.ndarray  # int64 epoch ms
    scored_at: np.ndarray  # int64 epoch ms
    infer_ms: np.ndarray  # float32
    partition: np.ndarray  # int16: the Kafka partition the value came from

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(*(getattr(self, f)[rows] for f in self.__slots__))

    @staticmethod
    def concat(parts: Sequence[Columns]) -> Columns:
        fields = Columns.__slots__
        return Columns(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))

    def __len__(self) -> int:
        return len(self.key)


class PredictionDecoder:
    def __init__(self, codec: AvroCodec, models: Vocabulary, decisions: Vocabulary) -> None:
        self.codec = codec
        self.header = np.frombuffer(codec.frame_header(), dtype=np.uint8)
        self.models = models
        self.decisions = decisions
        self.undecodable = 0

    def decode(self, values: Sequence[bytes], partitions: np.ndarray | None = None) -> Columns:
        """The chunk's rows in input order; undecodable values are counted and left out."""
        n = len(values)
        if partitions is None:
            partitions = np.zeros(n, dtype=np.int16)
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        data = np.frombuffer(b"".join(values) + bytes(64), dtype=np.uint8)  # pad: gathers
        ok = lengths >= len(self.header) + 28  # the shortest possible prediction body
        for j, byte in enumerate(self.header):
            ok &= data[np.minimum(starts + j, len(data) - 1)] == byte
        pos = starts + len(self.header)
        text_start, text_len = [], []
        for _ in range(_N_STRINGS_BEFORE_SCORE):
            b = data[np.minimum(pos, len(data) - 1)].astype(np.int64)
            ok &= b < 128  # one-byte, non-negative length
            text_start.append(pos + 1)
            text_len.append(b >> 1)
            pos = np.minimum(pos + 1 + (b >> 1), len(data) - 64)
        score_at = pos
        b = data[np.minimum(pos + 8, len(data) - 1)].astype(np.int64)
        ok &= b < 128
        decision_start, decision_len = pos + 9, b >> 1
        pos = np.minimum(pos + 9 + (b >> 1), len(data) - 64)
        flag = data[pos]
        ok &= flag <= 1
        event_time, pos = _varints(data, pos + 1)
        scored_at, pos = _varints(data, pos)
        infer_at = pos + 16
        ok &= pos + 32 == ends
        fast = np.flatnonzero(ok)
        slow = np.flatnonzero(~ok)
        fast_cols = self._fast(
            data, fast, text_start, text_len, score_at, decision_start, decision_len, flag,
            event_time, scored_at, infer_at, partitions,
        )  # fmt: skip
        if not len(slow):
            return fast_cols
        slow_cols, decoded = self._slow([values[i] for i in slow], partitions[slow])
        merged = Columns.concat([fast_cols, slow_cols])
        return merged.take(np.argsort(np.concatenate([fast, slow[decoded]]), kind="stable"))

    def _fast(
        self, data: np.ndarray, rows: np.ndarray, text_start: list[np.ndarray],
        text_len: list[np.ndarray], score_at: np.ndarray, decision_start: np.ndarray,
        decision_len: np.ndarray, flag: np.ndarray, event_time: np.ndarray,
        scored_at: np.ndarray, infer_at: np.ndarray, partitions: np.ndarray,
    ) -> Columns:  # fmt: skip
        key = hash_slices(data, text_start[0][rows], text_len[0][rows])
        # name and version hashed together: a slice from the name's start to the version's end
        model_end = text_start[3][rows] + text_len[3][rows]
        model_hash = hash_slices(data, text_start[2][rows], model_end - text_start[2][rows])
        name_end = text_start[2][rows] + text_len[2][rows]
        model = self._codes(data, model_hash, text_start[2][rows], model_end, self.models, name_end)
        d_start, d_len = decision_start[rows], decision_len[rows]
        decision = self._codes(
            data, hash_slices(data, d_start, d_len), d_start, d_start + d_len, self.decisions
        )
        return Columns(
            key,
            model.astype(np.int16),
            _doubles(data, score_at[rows]),
            decision.astype(np.int8),
            flag[rows].astype(bool),
            event_time[rows],
            scored_at[rows],
            _doubles(data, infer_at[rows]).astype(np.float32),
            partitions[rows],
        )

    @staticmethod
    def _codes(
        data: np.ndarray, hashes: np.ndarray, starts: np.ndarray, ends: np.ndarray,
        vocabulary: Vocabulary, name_ends: np.ndarray | None = None,
    ) -> np.ndarray:  # fmt: skip
        """A code per row; one Python string per distinct value. With ``name_ends``, each
        slice is ``name | version length byte | version`` and reads as ``name:version``."""
        unique, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        codes = np.empty(len(unique), dtype=np.int64)
        for i, row in enumerate(first):
            raw = data[starts[row] : ends[row]].tobytes()
            if name_ends is not None:
                cut = int(name_ends[row] - starts[row])
                raw = raw[:cut] + b":" + raw[cut + 1 :]
            codes[i] = vocabulary.code(raw.decode("utf-8", "replace"))
        return codes[inverse]

    def _slow(self, values: Sequence[bytes], partitions: np.ndarray) -> tuple[Columns, np.ndarray]:
        rows, decoded = [], []
        for i, value in enumerate(values):
            try:
                rows.append(self.codec.decode(value))
                decoded.append(i)
            except DecodeError:
                self.undecodable += 1
        index = np.asarray(decoded, dtype=np.int64)
        return self.from_records(rows, partitions[index]), index

    def from_records(
        self, records: Sequence[dict], partitions: np.ndarray | None = None
    ) -> Columns:
        """Columns of already-decoded Prediction records (either logical-type setting)."""

        def ms(t: object) -> int:
            return t if isinstance(t, int) else int(t.timestamp() * 1000)  # type: ignore[attr-defined]

        n = len(records)
        return Columns(
            hash_strings([r["event_id"] for r in records]),
            np.fromiter(
                (self.models.code(f"{r['model_name']}:{r['model_version']}") for r in records),
                np.int16,
                n,
            ),
            np.fromiter((r["score"] for r in records), np.float64, n),
            np.fromiter((self.decisions.code(r["decision"]) for r in records), np.int8, n),
            np.fromiter((r["features_missing"] for r in records), bool, n),
            np.fromiter((ms(r["event_time"]) for r in records), np.int64, n),
            np.fromiter((ms(r["scored_at"]) for r in records), np.int64, n),
            np.fromiter((r["timings"]["infer_ms"] for r in records), np.float32, n),
            np.zeros(n, dtype=np.int16) if partitions is None else partitions.astype(np.int16),
        )


def _doubles(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    return data[at[:, None] + np.arange(8)].copy().view("<f8").reshape(-1)


def _varints(data: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zig-zag varint longs starting at each of ``at``, and where each ends."""
    raw = data[at[:, None] + np.arange(10)].astype(np.uint64)
    more = raw >= 128
    # length: up to and including the first byte without the continuation bit
    length = np.argmin(more, axis=1) + 1
    keep = np.arange(10) < length[:, None]
    shifts = (np.arange(10, dtype=np.uint64) * np.uint64(7))[None, :]
    value = np.bitwise_or.reduce(np.where(keep, (raw & np.uint64(127)) << shifts, 0), axis=1)
    signed = (value >> np.uint64(1)).astype(np.int64) ^ -(value & np.uint64(1)).astype(np.int64)
    return signed, at + length

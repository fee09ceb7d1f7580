"""Prediction values decoded a chunk at a time into numpy columns, without a dict per record.

The report reads two records per joined pair (primary and shadow): ten million pairs are
twenty million values, and the codec's fastavro read at about 4 µs a value (against 0.4 µs
here: ``python -m bench.report_scale --micro``) would make decoding, not Kafka, the
report's limit. A Prediction body is short strings, a double, a boolean, two varint longs,
four doubles and a last string, so a chunk of values is decoded with numpy gathers over the
joined bytes (schemas/prediction.avsc, in field order)::

    event_id entity_id model_name model_version   string: zig-zag varint length, bytes
    score                                         8-byte little-endian double
    decision                                      string
    features_missing                              1 byte
    event_time scored_at                          zig-zag varint longs
    timings: decode_ms features_ms infer_ms publish_ms   4 doubles
    role                                          string: primary, canary or shadow
    features_stale                                1 byte
    outputs                                       array: count, doubles, end 0 (no block: 0)
    attributes                                    map: count, string pairs, end 0 (empty: 0)

A value takes the fast path when it starts with this codec's own header, every string is
shorter than 64 bytes (a one-byte length) and the array and the map are one block of fewer
than 64 entries (as every writer writes them); any other value (an older writer's schema, a long
string, a malformed body) goes through :meth:`AvroCodec.decode`, so the result is the same
as decoding each value alone, and a value that does not decode is counted, not fatal. A value
of the released schema before ``role`` (schemas/released/prediction.avsc) has that schema's
fingerprint in its header, so it takes the slow path, where the codec's resolution gives it the
field's default: ``primary``.

Strings become integers: ``event_id`` a 64-bit hash (:func:`hash_slices`; the join key), the
model, the decision and the role a code in a :class:`Vocabulary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from schemas.wire import ascii_spans, hash_slices, hash_strings, varints, words_of
from streams.routing.split import ROLES

_N_STRINGS_BEFORE_SCORE = 4
# four empty strings, the score, an empty decision, the flag, two 1-byte longs, the timings,
# an empty role, the stale flag, no outputs and no attributes: 4 + 8 + 1 + 1 + 2 + 32 + 1 + 3
_SHORTEST_BODY = 52
_MAX_ATTRIBUTES = 8  # pairs read on the fast path; a value with more takes the codec's


@dataclass(slots=True)
class Frames:
    """A chunk of values as one padded byte buffer: where each value's body starts and ends,
    and ``ok``: whether it can still take the fast path (it starts with the codec's header and
    every field read so far was well formed)."""

    data: np.ndarray
    words: np.ndarray  # words_of(data)
    body: np.ndarray  # where each value's body starts
    ends: np.ndarray
    limit: int  # positions are clipped here: a bad length reads padding, never past it
    ok: np.ndarray

    @classmethod
    def of(cls, values: Sequence[bytes], header: np.ndarray, min_body: int) -> Frames:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        data = np.frombuffer(b"".join(values) + bytes(64), dtype=np.uint8)
        limit = len(data) - 64
        ok = lengths >= len(header) + min_body
        for j, byte in enumerate(header):
            ok &= data[np.minimum(starts + j, limit)] == byte
        return cls(data, words_of(data), starts + len(header), ends, limit, ok)

    def string(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The string at each of ``at``: its first byte, its length, where the next field
        starts. A length that is not one byte and even (non-negative) clears ``ok``."""
        b = self.data[at].astype(np.int64)
        self.ok &= (b < 128) & (b & 1 == 0)
        return at + 1, b >> 1, np.minimum(at + 1 + (b >> 1), self.limit)


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
    role: np.ndarray  # int8 code in the roles vocabulary (primary, canary, shadow first)
    stale: np.ndarray  # bool: features_stale

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(*(getattr(self, f)[rows] for f in self.__slots__))

    @staticmethod
    def concat(parts: Sequence[Columns]) -> Columns:
        fields = Columns.__slots__
        return Columns(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))

    def __len__(self) -> int:
        return len(self.key)


def role_vocabulary() -> Vocabulary:
    """Roles coded in a fixed order: primary 0, canary 1, shadow 2, any other after."""
    roles = Vocabulary()
    for name in ROLES:
        roles.code(name)
    return roles


class PredictionDecoder:
    def __init__(
        self, codec: AvroCodec, models: Vocabulary, decisions: Vocabulary,
        roles: Vocabulary | None = None,
    ) -> None:  # fmt: skip
        self.codec = codec
        self.header = np.frombuffer(codec.frame_header(), dtype=np.uint8)
        self.models = models
        self.decisions = decisions
        self.roles = role_vocabulary() if roles is None else roles
        self.undecodable = 0

    def decode(self, values: Sequence[bytes], partitions: np.ndarray | None = None) -> Columns:
        """The chunk's rows in input order; undecodable values are counted and left out."""
        n = len(values)
        if partitions is None:
            partitions = np.zeros(n, dtype=np.int16)
        frames = Frames.of(values, self.header, _SHORTEST_BODY)
        data, words, limit = frames.data, frames.words, frames.limit
        pos = frames.body
        text_start, text_len = [], []
        for _ in range(_N_STRINGS_BEFORE_SCORE):
            start, length, pos = frames.string(pos)
            text_start.append(start)
            text_len.append(length)
        score_at = pos
        decision_start, decision_len, pos = frames.string(pos + 8)
        ok = frames.ok
        # Strings must be UTF-8 as for the codec; ASCII is checked here (event_id to version
        # are one span: their length bytes are ASCII too), anything else takes the slow path.
        ok &= ascii_spans(words, text_start[0], text_start[3] + text_len[3])
        ok &= ascii_spans(words, decision_start, decision_start + decision_len)
        flag = data[pos]
        ok &= flag <= 1
        event_time, pos, fits = varints(words, pos + 1)
        ok &= fits
        scored_at, pos, fits = varints(words, np.minimum(pos, limit))
        ok &= fits
        infer_at = np.minimum(pos + 16, limit)
        role_start, role_len, pos = frames.string(np.minimum(pos + 32, limit))
        ok &= ascii_spans(words, role_start, role_start + role_len)
        stale = data[pos]
        ok &= stale <= 1
        pos = self._skip_outputs(frames, np.minimum(pos + 1, limit))
        pos = self._skip_attributes(frames, pos)
        ok &= pos == frames.ends
        fast = np.flatnonzero(ok)
        slow = np.flatnonzero(~ok)
        fast_cols = self._fast(
            data, fast, text_start, text_len, score_at, decision_start, decision_len, flag,
            event_time, scored_at, infer_at, partitions, role_start, role_len, stale,
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
        role_start: np.ndarray, role_len: np.ndarray, stale: np.ndarray,
    ) -> Columns:  # fmt: skip
        every = len(rows) == len(flag)
        rows = slice(None) if every else rows  # type: ignore[assignment]
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
        r_start, r_len = role_start[rows], role_len[rows]
        role = self._codes(data, hash_slices(data, r_start, r_len), r_start, r_start + r_len,
                           self.roles)  # fmt: skip
        doubles: np.ndarray = np.ndarray((len(data) - 7,), dtype="<f8", buffer=data, strides=(1,))
        return Columns(
            key,
            model.astype(np.int16),
            doubles[score_at[rows]],
            decision.astype(np.int8),
            flag[rows].astype(bool),
            event_time[rows],
            scored_at[rows],
            doubles[infer_at[rows]].astype(np.float32),
            partitions[rows],
            role.astype(np.int8),
            stale[rows].astype(bool),
        )

    @staticmethod
    def _skip_outputs(frames: Frames, pos: np.ndarray) -> np.ndarray:
        """Past the outputs array: a one-byte count (even: zig-zag of 0-63), then that many
        doubles and an end marker, or nothing more for a count of 0."""
        count = frames.data[pos].astype(np.int64)
        frames.ok &= (count < 128) & (count & 1 == 0)
        k = count >> 1
        after = np.where(k > 0, pos + 1 + 8 * k, pos + 1)
        end = np.minimum(after, frames.limit)
        frames.ok &= (k == 0) | (frames.data[end] == 0)
        return np.minimum(np.where(k > 0, after + 1, after), frames.limit)

    @staticmethod
    def _skip_attributes(frames: Frames, pos: np.ndarray) -> np.ndarray:
        """Past the attributes map: a one-byte count, that many (key, value) strings, an end
        marker (none for an empty map). Strings must be ASCII, as everywhere here."""
        count = frames.data[pos].astype(np.int64)
        pairs = count >> 1
        frames.ok &= (count < 128) & (count & 1 == 0) & (pairs <= _MAX_ATTRIBUTES)
        at = np.minimum(pos + 1, frames.limit)
        for j in range(int(pairs.max(initial=0))):
            has = pairs > j
            for _ in range(2):  # the key, then the value: a one-byte length, the bytes
                b = frames.data[at].astype(np.int64)
                start, length = at + 1, b >> 1
                good = (b < 128) & (b & 1 == 0)
                good &= ascii_spans(frames.words, start, start + length)
                frames.ok &= ~has | good
                at = np.where(has, np.minimum(start + length, frames.limit), at)
        end = np.minimum(at, frames.limit)
        frames.ok &= (pairs == 0) | (frames.data[end] == 0)
        return np.minimum(np.where(pairs > 0, at + 1, at), frames.limit)

    @staticmethod
    def _codes(
        data: np.ndarray, hashes: np.ndarray, starts: np.ndarray, ends: np.ndarray,
        vocabulary: Vocabulary, name_ends: np.ndarray | None = None,
    ) -> np.ndarray:  # fmt: skip
        """A code per row; one Python string per distinct value. With ``name_ends``, each
        slice is ``name | version length byte | version`` and reads as ``name:version``.
        A chunk holds a handful of models and decisions: one comparison per distinct value
        costs less than sorting the chunk."""
        codes = np.empty(len(hashes), dtype=np.int64)
        todo = np.arange(len(hashes))
        while len(todo):
            row = todo[0]
            raw = data[starts[row] : ends[row]].tobytes()
            if name_ends is not None:
                cut = int(name_ends[row] - starts[row])
                raw = raw[:cut] + b":" + raw[cut + 1 :]
            same = hashes[todo] == hashes[row]
            codes[todo[same]] = vocabulary.code(raw.decode("utf-8", "replace"))
            todo = todo[~same]
        return codes

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
            np.fromiter((self.roles.code(r.get("role", "primary")) for r in records), np.int8, n),
            np.fromiter((bool(r.get("features_stale", False)) for r in records), bool, n),
        )

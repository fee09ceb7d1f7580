"""Decode a batch of ``Event`` values into columns, one numpy pass per field, not per record.

``AvroCodec.decode_many`` reads a value at a time through fastavro (4.5 µs per event with
the float32 matrix built from its records, 0.9 µs here: ``python bench/codec_bench.py``).
The worker only wants columns (ids, times, the float32 feature matrix), so this module reads
every value of a batch at once. The values are joined into one byte buffer, padded with zero
bytes so that an 8-byte read anywhere near the end stays inside it. A value whose header is
the codec's own :meth:`~schemas.codec.AvroCodec.frame_header` (single-object ``C3 01`` and
the reader's fingerprint, or Confluent ``00`` and the reader's schema id) carries a body in
exactly the reader's schema, fields back to back in schema order::

    string         zig-zag varint length n, then n UTF-8 bytes
    int, long      zig-zag varint (little-endian groups of 7 bits, high bit = more follows)
    double         8 bytes, IEEE 754 little-endian
    boolean        one byte, 0 or 1
    [null, string] zig-zag varint branch (0: nothing follows, 1: a string follows)

The fields are walked for all records together: a record's position after a field is its
position before plus that field's width, so every step is a gather and some arithmetic.

Fallback rule: a record whose bytes are anything but plainly valid leaves the fast path and
is decoded by the codec itself (``AvroCodec.decode``), which gives the exact record or the
exact :class:`DecodeError`. That is a different header (older writers, unknown schemas, bad
magic, short or empty values), a varint longer than its type allows or an int outside int32,
a boolean byte other than 0/1, a branch other than 0/1, a string running past its value or
holding a non-ASCII byte (fastavro owns UTF-8 edge cases), and a body that does not end
exactly where its value ends. When in doubt, fall back: the result is always what
``decode_many`` gives, converted to columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.codec import AvroCodec, primitive_only
from schemas.errors import DecodeError, RegistryError
from schemas.features import EVENT_FEATURE_NAMES
from schemas.wire import varints, words_of

_INT32 = (-(2**31), 2**31 - 1)
_KINDS = {"string", "int", "long", "double", "boolean", "nullable-string"}
_NUMBERS = {"int", "long", "double", "boolean"}
_WANTED = {"event_id": {"string"}, "entity_id": {"string"}, "event_time": {"long"}}
_WANTED |= {"segment": {"nullable-string"}} | dict.fromkeys(EVENT_FEATURE_NAMES, _NUMBERS)


@dataclass(frozen=True, slots=True)
class EventColumns:
    """The good rows of a batch as columns; ``index`` is each row's position in the input."""

    index: np.ndarray  # int64, ascending
    event_ids: list[str]
    entity_ids: list[str]
    event_time: np.ndarray  # int64 epoch milliseconds
    features: np.ndarray  # float32, (rows, len(EVENT_FEATURE_NAMES)), in that order
    segments: list[str | None]

    def __len__(self) -> int:
        return len(self.index)

    def take(self, keep: np.ndarray) -> EventColumns:
        """The rows where the boolean mask ``keep`` is true."""
        rows = np.flatnonzero(keep).tolist()
        return EventColumns(
            self.index[keep],
            [self.event_ids[i] for i in rows],
            [self.entity_ids[i] for i in rows],
            self.event_time[keep],
            self.features[keep],
            [self.segments[i] for i in rows],
        )


class EventColumnDecoder:
    """What ``codec.decode_many`` gives, as :class:`EventColumns`, mostly without fastavro.

    ``fallbacks`` counts the values of the last :meth:`decode` that went through the codec's
    own decode (bad, foreign or unusual bytes); clean values from this codec never do.
    """

    def __init__(self, codec: AvroCodec) -> None:
        if codec.logical_types:
            raise ValueError("the decoder reads event_time as epoch ms: logical_types=False")
        self.codec = codec
        fields = primitive_only(codec.schema)["fields"]
        self.fields = [(f["name"], _kind(f["type"])) for f in fields]
        kinds = dict(self.fields)
        if "" in kinds.values() or any(kinds.get(n) not in k for n, k in _WANTED.items()):
            raise ValueError(f"{codec.name} is not an event schema this decoder can read")
        # Zero bytes after the last value: a bad record may run 8 bytes per field past its
        # end between two string checks, and every read is 8 bytes wide.
        self._pad = bytes(8 * len(fields) + 32)
        self._header: bytes | None = None  # None: not known yet (the registry may be down)
        self.fallbacks = 0

    def decode(self, values: Sequence[bytes]) -> tuple[EventColumns, list[tuple[int, DecodeError]]]:
        """Good rows in input order, and (index, error) for each bad value, like decode_many.

        Never raises for a bad message; a :class:`RegistryError` propagates from the codec.
        """
        n = len(values)
        header = self._fast_header()
        joined = b"".join(values)
        data = np.frombuffer(joined + self._pad, dtype=np.uint8)
        words = words_of(data)
        ends = np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=n))
        starts = np.empty_like(ends)
        starts[:1] = 0
        starts[1:] = ends[:-1]

        ok = _has_header(words, starts, ends, header) if header else np.zeros(n, dtype=bool)
        walk = _Walk(data, words, ends, starts + len(header or b""), ok, len(joined))
        columns = {name: walk.field(kind) for name, kind in self.fields}
        ok = walk.ok & (walk.pos == ends)  # nothing missing, nothing left over

        text = joined.decode("latin-1")  # one char per byte: spans index it like the bytes
        texts = {n: _strings(text, *columns[n]) for n, k in self.fields if "string" in k}
        # A non-ASCII byte needs fastavro's UTF-8 decoding: such rows fall back. isascii()
        # is a flag lookup on these slices; filter drops the None of absent strings.
        if not all(all(map(str.isascii, filter(None, t))) for t in texts.values()):
            flags = [all(map(_ascii, row)) for row in zip(*texts.values(), strict=True)]
            ok &= np.array(flags, dtype=bool)
        ids, entities, segments = texts["event_id"], texts["entity_id"], texts["segment"]

        event_time = columns["event_time"]
        features = np.empty((n, len(EVENT_FEATURE_NAMES)), dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 becomes inf, as it does now
            for j, name in enumerate(EVENT_FEATURE_NAMES):
                features[:, j] = columns[name]

        bad: list[tuple[int, DecodeError]] = []
        slow = np.flatnonzero(~ok)
        self.fallbacks = len(slow)
        if not len(slow):
            index = np.arange(n, dtype=np.int64)
            return EventColumns(index, ids, entities, event_time, features, segments), bad

        rescued: list[tuple[int, dict[str, Any]]] = []
        for i in slow.tolist():
            try:
                rescued.append((i, self.codec.decode(values[i])))
            except DecodeError as exc:
                bad.append((i, exc))
        if rescued:
            at = [i for i, _ in rescued]
            records = [r for _, r in rescued]
            # The very expression the pipeline builds its matrix with: identical float32s.
            with np.errstate(over="ignore", invalid="ignore"):
                features[at] = np.asarray(
                    [[r[f] for f in EVENT_FEATURE_NAMES] for r in records], dtype=np.float32
                )
            event_time[at] = [r["event_time"] for r in records]
            for i, r in rescued:
                ids[i], entities[i], segments[i] = r["event_id"], r["entity_id"], r["segment"]
            ok[at] = True
        every = EventColumns(
            np.arange(n, dtype=np.int64), ids, entities, event_time, features, segments
        )
        return every.take(ok), bad

    def _fast_header(self) -> bytes | None:
        """The header of values in the reader's own schema; b"" when there is none, None
        when the registry cannot say now (then every value takes the codec's path, which
        raises the RegistryError exactly where decode_many would)."""
        if self._header is None:
            try:
                header = self.codec.frame_header()
                same = self.codec.reads_without_resolution(header)
            except RegistryError:
                return None
            except DecodeError:  # the registry does not know the reader: no fast path
                header, same = b"", False
            self._header = header if same and 0 < len(header) <= 16 else b""
        return self._header


class _Walk:
    """The position of every record in the joined buffer, advanced one field at a time.

    ``ok`` turns False for good at the first thing a record gets wrong; positions of such
    records stay inside the padded buffer but mean nothing afterwards.
    """

    def __init__(
        self, data: np.ndarray, words: np.ndarray, ends: np.ndarray, pos: np.ndarray, ok: Any,
        zero_at: int,
    ) -> None:  # fmt: skip
        self.data, self.words, self.ends, self.pos, self.ok = data, words, ends, pos, ok
        self.zero_at = zero_at  # a padding byte: a varint that reads 0

    def field(self, kind: str) -> Any:
        pos = self.pos
        if kind == "double":
            self.pos = pos + 8
            return self.words[pos].view("<f8")
        if kind == "boolean":
            byte = self.data[pos]
            self.ok &= byte <= 1
            self.pos = pos + 1
            return byte.astype(bool)
        if kind in ("int", "long"):
            value, width, valid = self._varints(pos, int32=kind == "int")
            self.ok &= valid
            self.pos = pos + width
            return value
        if kind == "string":
            return self._string(pos, None)
        branch = self.data[pos]  # nullable-string: a one-byte branch, 0 or 2 zig-zagged
        self.ok &= (branch == 0) | (branch == 2)
        has = branch == 2
        start, end = self._string(pos + 1, has)
        return start, end, has

    def _string(self, pos: np.ndarray, has: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The (start, end) span of a string at each of ``pos``; where ``has`` is False there
        is no string (the varint is read from a zero byte of padding instead)."""
        at = pos if has is None else np.where(has, pos, self.zero_at)
        length, width, valid = self._varints(at, int32=False)
        start = pos + width
        end = start + length
        good = valid & (length >= 0) & (end <= self.ends)
        if has is not None:
            good |= ~has
            end = np.where(has, end, pos)
            start = np.where(has, start, pos)
        self.ok &= good
        # Past a bad length, restart at the value's end: later reads stay within the padding.
        self.pos = np.where(good, end, self.ends)
        return start, np.where(good, end, start)

    def _varints(self, at: np.ndarray, int32: bool) -> tuple[np.ndarray, Any, Any]:
        """Zig-zag varints at each of ``at``: values, widths in bytes, and whether each is
        plainly valid (ends within 8 bytes, 5 for an int, and an int fits in int32)."""
        first = self.data[at]
        if not len(at) or first.max() < 0x80:  # every varint is one byte: the common case
            small = first.astype(np.int64)
            return (small >> 1) ^ -(small & 1), 1, True
        # Longer than 8 bytes (past 2**55) is beyond the fast path: not valid, width 0.
        value, end, valid = varints(self.words, at)
        width = end - at
        if int32:
            valid &= (width <= 5) & (value >= _INT32[0]) & (value <= _INT32[1])
        return value, width, valid


def _has_header(
    words: np.ndarray, starts: np.ndarray, ends: np.ndarray, header: bytes
) -> np.ndarray:
    """Whether each value is at least ``header`` long and starts with it (up to 16 bytes)."""
    size = len(header)
    head = min(size, 8)
    mask = np.uint64((1 << (8 * head)) - 1)
    match = (words[starts] & mask) == np.uint64(int.from_bytes(header[:head], "little"))
    if size > 8:  # the last 8 header bytes, overlapping the first word
        tail = np.uint64(int.from_bytes(header[size - 8 :], "little"))
        match &= words[starts + (size - 8)] == tail
    match &= ends - starts >= size
    return match


def _strings(
    text: str, starts: np.ndarray, ends: np.ndarray, has: np.ndarray | None = None
) -> list[Any]:
    """The strings at these spans of ``text``; None where ``has`` says there is none."""
    spans = zip(starts.tolist(), ends.tolist(), strict=True)
    if has is None:
        return [text[a:b] for a, b in spans]
    return [text[a:b] if h else None for (a, b), h in zip(spans, has.tolist(), strict=True)]


def _ascii(text: str | None) -> bool:
    return text is None or text.isascii()


def _kind(avro_type: Any) -> str:
    """The walk's name for a field type; "" for one it cannot read."""
    if avro_type == ["null", "string"]:
        return "nullable-string"
    return avro_type if isinstance(avro_type, str) and avro_type in _KINDS else ""

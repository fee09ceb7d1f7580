"""Decode a batch of event values into columns, one numpy pass per field, not per record.

``AvroCodec.decode_many`` reads a value at a time through fastavro (4.5 µs per event with
the float32 matrix built from its records, 0.9 µs here: ``python bench/codec_bench.py``).
The worker only wants columns (ids, times, the fields its inputs read), so this module reads
every value of a batch at once. It reads any project's *plain* event record: fields of the
primitive types, the same made optional (``["null", T]``) and enums. The values are joined
into one byte buffer, padded with zero bytes so that an 8-byte read anywhere near the end
stays inside it. A value whose header is the codec's own
:meth:`~schemas.codec.AvroCodec.frame_header` (single-object ``C3 01`` and the reader's
fingerprint, or Confluent ``00`` and the reader's schema id) carries a body in exactly the
reader's schema, fields back to back in schema order::

    string         zig-zag varint length n, then n UTF-8 bytes
    int, long      zig-zag varint (little-endian groups of 7 bits, high bit = more follows)
    double, float  8 or 4 bytes, IEEE 754 little-endian
    boolean        one byte, 0 or 1
    enum           zig-zag varint: the symbol's index
    ["null", T]    zig-zag varint branch (0: nothing follows, 1: a T follows)

The fields are walked for all records together: a record's position after a field is its
position before plus that field's width, so every step is a gather and some arithmetic.

Fallback rule: a record whose bytes are anything but plainly valid leaves the fast path and
is decoded by the codec itself (``AvroCodec.decode``), which gives the exact record or the
exact :class:`DecodeError`. That is a different header (older writers, unknown schemas, bad
magic, short or empty values), a varint longer than its type allows or an int outside int32,
a boolean byte other than 0/1, a branch other than 0/1, an enum index outside its symbols, a
string running past its value or holding a non-ASCII byte (fastavro owns UTF-8 edge cases),
and a body that does not end exactly where its value ends. A schema with a field of another
type (a record, an array, a map, bytes, fixed) is not plain: every value takes the codec's
path. When in doubt, fall back: the result is always what ``decode_many`` gives, as columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.codec import AvroCodec, primitive_only
from schemas.errors import DecodeError, RegistryError
from schemas.project.avro import base_kind, kind_of
from schemas.project.layout import FieldColumns
from schemas.wire import ascii_spans, varints, words_of

_INT32 = (-(2**31), 2**31 - 1)
_WALKABLE = {"string", "int", "long", "float", "double", "boolean", "enum"}
_LOW32 = np.uint64(0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class EventColumns:
    """The good rows of a batch as columns; ``index`` is each row's position in the input.
    ``fields`` holds the fields the decoder was asked for: numbers (float64, NaN where
    absent, with ``present`` masks for optional ones) and text (None where absent)."""

    index: np.ndarray  # int64, ascending
    event_ids: list[str]
    entity_ids: list[str]
    event_time: np.ndarray  # int64 epoch milliseconds
    fields: FieldColumns

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
            self.fields.take(keep),
        )


class EventColumnDecoder:
    """What ``codec.decode_many`` gives, as :class:`EventColumns`, mostly without fastavro.

    ``id``, ``entity`` and ``time`` name the event's id (string), entity (string) and time
    (long) fields; ``numbers`` the fields wanted as numbers, ``text`` those wanted as text
    (strings and enum symbols). ``fallbacks`` counts the values of the last :meth:`decode`
    that went through the codec's own decode (bad, foreign or unusual bytes); clean values
    from this codec never do, unless the schema is not plain (``plain`` is False).
    """

    def __init__(
        self,
        codec: AvroCodec,
        *,
        id: str = "event_id",
        entity: str = "entity_id",
        time: str = "event_time",
        numbers: Sequence[str] = (),
        text: Sequence[str] = (),
    ) -> None:
        if codec.logical_types:
            raise ValueError("the decoder reads event times as epoch ms: logical_types=False")
        self.codec = codec
        fields = primitive_only(codec.schema)["fields"]
        self.fields = [(f["name"], kind_of(f["type"])) for f in fields]
        self.symbols = {
            f["name"]: np.array(f["type"]["symbols"], dtype=object)
            for f in fields if kind_of(f["type"]) == "enum"
        }  # fmt: skip
        kinds = dict(self.fields)
        wanted = {id: {"string"}, entity: {"string"}, time: {"long", "int"}}
        for name, allowed in wanted.items():
            if kinds.get(name) not in allowed:
                raise ValueError(f"{codec.name}: {name!r} is not a {' or '.join(allowed)} field")
        for name in (*numbers, *text):
            if name not in kinds:
                raise ValueError(f"{codec.name} has no field {name!r}")
        self.id, self.entity, self.time = id, entity, time
        self.numbers, self.text = tuple(numbers), tuple(text)
        self.plain = all(base_kind(k) in _WALKABLE for _, k in self.fields)
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
        header = self._fast_header() if self.plain else None
        joined = b"".join(values)
        data = np.frombuffer(joined + self._pad, dtype=np.uint8)
        words = words_of(data)
        ends = np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=n))
        starts = np.empty_like(ends)
        starts[:1] = 0
        starts[1:] = ends[:-1]

        ok = _has_header(words, starts, ends, header) if header else np.zeros(n, dtype=bool)
        walk = _Walk(data, words, ends, starts + len(header or b""), ok, len(joined))
        columns = {}
        if header:
            for name, kind in self.fields:
                columns[name] = walk.field(kind, len(self.symbols.get(name, ())))
        else:  # nothing takes the fast path: every column is filled from the codec
            columns = {name: _empty(kind, n) for name, kind in self.fields}
        ok = walk.ok & (walk.pos == ends)  # nothing missing, nothing left over

        text = joined.decode("latin-1")  # one char per byte: spans index it like the bytes
        kinds = dict(self.fields)
        strings = [self.id, self.entity]
        strings += [t for t in self.text if base_kind(kinds[t]) == "string"]
        spans = {name: _strings(text, *columns[name]) for name in dict.fromkeys(strings)}
        if header:  # strings nobody reads are checked in place: ASCII, or the codec's path
            for name, kind in self.fields:
                if base_kind(kind) == "string" and name not in spans:
                    start, end = columns[name][:2]
                    good = ascii_spans(words, start, end)  # the first 64 bytes of each
                    long = np.flatnonzero(ok & (end - start > 64))
                    if len(long):  # rare: checked whole, on the text
                        spans_of = zip(start[long].tolist(), end[long].tolist(), strict=True)
                        good[long] = [text[a:b].isascii() for a, b in spans_of]
                    ok &= good
        # A non-ASCII byte needs fastavro's UTF-8 decoding: such rows fall back. isascii()
        # is a flag lookup on these slices; filter drops the None of absent strings.
        if not all(all(map(str.isascii, filter(None, t))) for t in spans.values()):
            flags = [all(map(_ascii, row)) for row in zip(*spans.values(), strict=True)]
            ok &= np.array(flags, dtype=bool)

        event_time = np.asarray(_value_of(columns[self.time]), dtype=np.int64)
        out = FieldColumns()
        for name in self.numbers:
            value = columns[name]
            # A float's signalling NaN turns quiet in the cast, as in fastavro: no warning.
            with np.errstate(invalid="ignore"):
                if isinstance(value, tuple):  # optional: (values, present)
                    out.numbers[name] = np.where(value[1], value[0], np.nan).astype(np.float64)
                    out.present[name] = value[1]
                else:
                    out.numbers[name] = np.asarray(value, dtype=np.float64)
        for name in self.text:
            if name in spans:
                out.text[name] = spans[name]
            else:
                out.text[name] = self._enum_text(name, columns[name])
        ids, entities = spans[self.id], spans[self.entity]

        bad: list[tuple[int, DecodeError]] = []
        slow = np.flatnonzero(~ok)
        self.fallbacks = len(slow)
        if not len(slow):
            index = np.arange(n, dtype=np.int64)
            return EventColumns(index, ids, entities, event_time, out), bad

        rescued: list[tuple[int, dict[str, Any]]] = []
        for i in slow.tolist():
            try:
                rescued.append((i, self.codec.decode(values[i])))
            except DecodeError as exc:
                bad.append((i, exc))
        if rescued:
            self._fill(out, ids, entities, event_time, rescued)
            ok[[i for i, _ in rescued]] = True
        every = EventColumns(np.arange(n, dtype=np.int64), ids, entities, event_time, out)
        return every.take(ok), bad

    def _fill(
        self, out: FieldColumns, ids: list[str], entities: list[str], event_time: np.ndarray,
        rescued: list[tuple[int, dict[str, Any]]],
    ) -> None:  # fmt: skip
        """Put records decoded by the codec into the columns, at their rows."""
        at = [i for i, _ in rescued]
        records = [r for _, r in rescued]
        for name in self.numbers:
            raw = [r.get(name) for r in records]
            present = np.array([v is not None for v in raw], dtype=bool)
            with np.errstate(over="ignore", invalid="ignore"):
                out.numbers[name][at] = [np.nan if v is None else float(v) for v in raw]
            if name in out.present:
                out.present[name][at] = present
            elif not present.all():
                mask = np.ones(len(out.numbers[name]), dtype=bool)
                mask[at] = present
                out.present[name] = mask
        for name in self.text:
            column = out.text[name]
            for i, r in rescued:
                column[i] = None if r.get(name) is None else str(r[name])
        event_time[at] = [r[self.time] for r in records]
        for i, r in rescued:
            ids[i], entities[i] = r[self.id], r[self.entity]

    def _enum_text(self, name: str, value: Any) -> list[str | None]:
        symbols = self.symbols[name]
        index = np.clip(np.asarray(_value_of(value), dtype=np.int64), 0, len(symbols) - 1)
        texts: list[str | None] = list(symbols[index])
        return texts

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


def _value_of(column: Any) -> Any:
    return column[0] if isinstance(column, tuple) else column


def _empty(kind: str, n: int) -> Any:
    """A column of ``n`` rows that the codec's records fill in (the slow path)."""
    if base_kind(kind) == "string":
        zeros = np.zeros(n, dtype=np.int64)
        return (
            (zeros, zeros, np.zeros(n, dtype=bool))
            if kind.startswith("nullable")
            else (zeros, zeros)
        )
    values = np.zeros(n, dtype=np.float64)
    return (values, np.ones(n, dtype=bool)) if kind.startswith("nullable") else values


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

    def field(self, kind: str, symbols: int = 0) -> Any:
        """A field's column: values (or string spans), or (values, present) if optional."""
        if kind.startswith("nullable-"):
            return self._optional(base_kind(kind))
        return self._plain(kind, self.pos, symbols)

    def _plain(self, kind: str, pos: np.ndarray, symbols: int = 0) -> Any:
        if kind == "double":
            self.pos = pos + 8
            return self.words[pos].view("<f8")
        if kind == "float":
            self.pos = pos + 4
            return (self.words[pos] & _LOW32).astype(np.uint32).view("<f4")
        if kind == "boolean":
            byte = self.data[pos]
            self.ok &= byte <= 1
            self.pos = pos + 1
            return byte.astype(bool)
        if kind in ("int", "long", "enum"):
            value, width, valid = self._varints(pos, int32=kind != "long")
            self.ok &= valid
            if kind == "enum":
                self.ok &= (value >= 0) & (value < symbols)
            self.pos = pos + width
            return value
        return self._string(pos, None)  # string

    def _optional(self, kind: str) -> Any:
        """["null", T]: a one-byte branch, 0 or 2 (1 zig-zagged), then T where it is 2."""
        pos = self.pos
        branch = self.data[pos]
        self.ok &= (branch == 0) | (branch == 2)
        has = branch == 2
        if kind == "string":
            start, end = self._string(pos + 1, has)
            return start, end, has
        # Where there is no value, read it from a zero byte of padding: width 0 afterwards.
        at = np.where(has, pos + 1, self.zero_at)
        value = self._plain(kind, at)
        width = self.pos - at
        self.pos = np.where(has, pos + 1 + width, pos + 1)
        return value, has

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

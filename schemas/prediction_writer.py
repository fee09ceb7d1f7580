"""Writes a batch of Prediction values by hand, sharing the bytes that repeat.

Encoding predictions was the worker's largest cost (two fastavro calls per event, primary
and shadow: about 25 µs of 43 µs per event here). Within a batch most of a value repeats:
the event's ids and time are the same for every model, and the model name, version,
scored_at and timings are the same for every event. So each part is encoded once and a
value is one ``bytes.join``; the per-event tail (the shared bytes, the stale flag, the
outputs array) is written for the whole batch by one numpy pass and cut per row. The output
is byte-identical to ``AvroCodec.encode`` for the same record
(tests/schemas/test_prediction_writer.py checks it), and the constructor refuses a
prediction schema whose fields are not the ones written
here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from schemas.codec import AvroCodec
from schemas.errors import SchemaError

FIELDS = (
    "event_id", "entity_id", "model_name", "model_version", "score", "decision",
    "features_missing", "event_time", "scored_at", "timings", "role", "features_stale",
    "outputs", "attributes",
)  # fmt: skip
TIMINGS = ("decode_ms", "features_ms", "infer_ms", "publish_ms")
_DOUBLE = struct.Struct("<d").pack
_FOUR_DOUBLES = struct.Struct("<4d").pack
_TRUE, _FALSE = b"\x01", b"\x00"
EMPTY_MAP = b"\x00"


_SMALL = [bytes([i << 1]) for i in range(64)]  # 0..63 take one byte: string lengths


def avro_long(n: int) -> bytes:
    """Zig-zag varint, as Avro writes int and long."""
    if 0 <= n < 64:
        return _SMALL[n]
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def avro_string(text: str) -> bytes:
    data = text.encode()
    return avro_long(len(data)) + data


def avro_map(pairs: Sequence[tuple[str, str]]) -> bytes:
    """A map<string> of these pairs: one block, then the end marker."""
    if not pairs:
        return EMPTY_MAP
    body = b"".join(avro_string(k) + avro_string(v) for k, v in pairs)
    return avro_long(len(pairs)) + body + EMPTY_MAP


def tails(
    stale: Sequence[bool] | np.ndarray, outputs: np.ndarray, head: bytes = b"", end: bytes = b""
) -> list[bytes]:
    """Per event, ``head``, then ``features_stale`` and the ``outputs`` array (one byte, the
    block count, the doubles, the end marker; no block at all for zero outputs), then ``end``.
    The writer passes the batch's shared bytes as ``head`` (and the empty attributes map as
    ``end``), so a value is as few pieces as possible."""
    return [t for (t,) in _tail_rows(stale, outputs, head, end)]


def _tail_rows(
    stale: Sequence[bool] | np.ndarray, outputs: np.ndarray, head: bytes, end: bytes
) -> Iterator[tuple[bytes]]:
    """:func:`tails` as 1-tuples, cut by ``struct.iter_unpack``: half the cost of slicing."""
    n = len(stale)
    k = outputs.shape[1] if outputs.ndim == 2 else 0
    h = len(head)
    body = 1 + (2 + 8 * k if k else 1)
    width = h + body + len(end)
    buf = np.zeros((n, width), dtype=np.uint8)
    if h:
        buf[:, :h] = np.frombuffer(head, dtype=np.uint8)
    buf[:, h] = np.asarray(stale, dtype=np.uint8)
    if k:
        count = avro_long(k)
        if len(count) != 1:
            raise SchemaError(f"{k} outputs per event: at most 63")
        buf[:, h + 1] = count[0]
        buf[:, h + 2 : h + 2 + 8 * k] = np.ascontiguousarray(outputs, dtype="<f8").view(np.uint8)
    # the last byte of the body stays 0: the array's end marker
    if end:
        buf[:, h + body :] = np.frombuffer(end, dtype=np.uint8)
    return struct.iter_unpack(f"{width}s", buf.tobytes())


class PredictionWriter:
    def __init__(self, codec: AvroCodec) -> None:
        fields = tuple(f["name"] for f in codec.schema["fields"])
        timings = next(f["type"] for f in codec.schema["fields"] if f["name"] == "timings")
        if fields != FIELDS or tuple(f["name"] for f in timings["fields"]) != TIMINGS:
            raise SchemaError(f"{codec.name}: fields changed; update schemas/prediction_writer.py")
        self.header = codec.frame_header()

    def event_parts(
        self, event_ids: Sequence[str], entity_ids: Sequence[str], event_times_ms: Sequence[int]
    ) -> list[tuple[bytes, bytes]]:
        """Per event, the bytes that do not depend on the model: (ids, event_time)."""
        return [
            (avro_string(e) + avro_string(k), avro_long(t))
            for e, k, t in zip(event_ids, entity_ids, event_times_ms, strict=True)
        ]

    def encode(
        self,
        parts: Sequence[tuple[bytes, bytes]],
        scores: Sequence[float],
        decisions: Sequence[str],
        missing: Sequence[bool],
        model_name: str,
        model_version: str,
        scored_at_ms: int,
        timings: Mapping[str, float],
        role: str = "primary",
        stale: Sequence[bool] | np.ndarray | None = None,
        outputs: np.ndarray | None = None,
        attributes: Sequence[bytes] | None = None,
    ) -> list[bytes]:
        """One value per event; ``role`` (primary, canary, shadow) is the same for the batch.
        ``stale`` flags the events scored on stale features (None: none), ``outputs`` holds
        each event's raw outputs in rows (None: no outputs), and ``attributes`` each event's
        :func:`avro_map` (None: empty maps)."""
        n = len(parts)
        header = self.header
        model = avro_string(model_name) + avro_string(model_version)
        shared = (
            avro_long(scored_at_ms)
            + _FOUR_DOUBLES(*(float(timings[t]) for t in TIMINGS))
            + avro_string(role)
        )
        decision_bytes = {d: avro_string(d) for d in set(decisions)}
        join = b"".join
        ends = _tail_rows(
            np.zeros(n, dtype=bool) if stale is None else stale,
            np.empty((n, 0)) if outputs is None else outputs,
            shared,
            EMPTY_MAP if attributes is None else b"",
        )
        if attributes is None:
            return [
                join((header, ids, model, _DOUBLE(s), decision_bytes[d], _TRUE if m else _FALSE,
                      t, e))
                for (ids, t), s, d, m, (e,) in zip(parts, scores, decisions, missing, ends,
                                                   strict=True)
            ]  # fmt: skip
        return [
            join((header, ids, model, _DOUBLE(s), decision_bytes[d], _TRUE if m else _FALSE, t,
                  e, a))
            for (ids, t), s, d, m, (e,), a in zip(parts, scores, decisions, missing, ends,
                                                  attributes, strict=True)
        ]  # fmt: skip

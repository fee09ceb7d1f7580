"""Byte-level reading of Avro values in bulk: a uint64 word at every byte, 64-bit hashes
of byte slices and strings, ASCII checks and zig-zag varints, each over many values at once
(numpy gathers; no Python loop per value). The worker's event decoder
(schemas/event_columns.py) and the report's decoders (streams/report/columns.py, labels.py)
build on these; the wire layouts they read are described there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SEED = np.uint64(0xCBF29CE484222325)
_HIGH = np.uint64(0x8080808080808080)  # the "more follows" bit of each byte
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)  # the payload bits of each byte
_ONE = np.uint64(1)
# Squeeze 8 groups of 7 bits together: pairs into 14 bits, then 28, then 56 (a "pext").
_SQUEEZE = (
    (np.uint64(1), np.uint64(0x007F007F007F007F), np.uint64(0x3F803F803F803F80)),
    (np.uint64(2), np.uint64(0x00003FFF00003FFF), np.uint64(0x0FFFC0000FFFC000)),
    (np.uint64(4), np.uint64(0x000000000FFFFFFF), np.uint64(0x00FFFFFFF0000000)),
)


def words_of(data: np.ndarray) -> np.ndarray:
    """A view of ``data`` where item ``i`` is the 8 bytes from byte ``i`` as a little-endian
    uint64 (strides of one byte: no copy). ``data`` must end with 8 bytes of padding."""
    return np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))


def hash_slices(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each byte slice ``data[start : start + length]`` (``data`` padded by
    8 bytes), mixed 8 bytes at a time from a word view: one gather per word, grouped by
    length. (At ten million distinct ids the chance of any collision is about 3 in a
    million.)"""
    words = words_of(data)
    out = np.empty(len(starts), dtype=np.uint64)
    groups = np.unique(lengths) if len(lengths) else lengths
    for length in groups:
        rows = slice(None) if len(groups) == 1 else np.flatnonzero(lengths == length)
        at = starts[rows]
        h = np.full(len(at), _SEED ^ np.uint64(length), dtype=np.uint64)
        for k in range(0, int(length), 8):
            w = words[at + k]
            if int(length) - k < 8:  # the last, partial word: keep only the slice's bytes
                w = w & np.uint64((1 << (8 * (int(length) - k))) - 1)
            h = (h ^ w) * _PRIME
            h ^= h >> np.uint64(31)
        out[rows] = h * _MIX
    return out


def ascii_spans(words: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each byte span ``[start, end)`` is all ASCII (spans under 64 bytes here)."""
    lengths = np.clip(ends - starts, 0, 64)
    high = np.zeros(len(starts), dtype=np.uint64)
    for k in range(0, int(lengths.max(initial=0)), 8):
        left = np.clip(lengths - k, 0, 8).astype(np.uint64)
        mask = np.where(
            left >= 8, np.uint64(2**64 - 1), (np.uint64(1) << (left * np.uint64(8))) - np.uint64(1)
        )
        high |= words[np.minimum(starts + k, len(words) - 1)] & mask
    return (high & np.uint64(0x8080808080808080)) == 0


def hash_strings(texts: Sequence[str]) -> np.ndarray:
    """:func:`hash_slices` of each string's UTF-8 bytes: the same key a decoded value gets."""
    encoded = [t.encode() for t in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(encoded) else lengths
    data = np.frombuffer(b"".join(encoded) + bytes(8), dtype=np.uint8)
    return hash_slices(data, starts, lengths)


def varints(words: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zig-zag varint longs starting at each of ``at``; where each ends; and whether it fits
    in 8 bytes (up to 2**55: epoch milliseconds until the year 10889; else the slow path)."""
    w = words[at]
    stops = ~w & _HIGH  # the high bit of each byte that ends it
    fits = stops != 0
    lowest = stops & (~stops + _ONE)  # the first such byte's high bit alone (0: none)
    # That bit is 8k+7 for length k+1; a power of two's float64 exponent is its bit.
    length = np.where(fits, ((lowest.astype(np.float64).view(np.int64) >> 52) - 1022) >> 3, 0)
    v = w & (lowest | (lowest - _ONE)) & _LOW7 & np.where(fits, ~np.uint64(0), np.uint64(0))
    for shift, keep, moved in _SQUEEZE:
        v = (v & keep) | ((v >> shift) & moved)
    signed = (v >> _ONE).view(np.int64) ^ -(v & _ONE).view(np.int64)
    return signed, at + length, fits

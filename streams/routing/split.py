"""Which entities a canary decides for: a sticky share, by a hash of the entity id.

An entity's bucket (0-9999) is a hash of its id alone, and a canary at P % takes the buckets
below 100·P. So the same entity always lands in the same arm, in every worker and after every
restart, without any shared state; and moving the share up (10 % to 20 %) keeps every entity
already on the canary there, adding new ones, while moving it down only takes entities away.
A user's experience never flips back and forth.

The hash is CRC-32 (zlib, C speed) finished with MurmurHash3's 32-bit mixer: CRC-32 alone is
linear, so ids that differ in one character fall into buckets that differ in a pattern; the
mixer spreads them. ``python -m pytest tests/streams/routing/test_split.py -s`` prints the
share a 10 % canary gets over simulated entity ids.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

BUCKETS = 10_000
ROLES = ("primary", "canary", "shadow")


def buckets(entity_keys: Sequence[bytes]) -> np.ndarray:
    """Each entity id's bucket in [0, BUCKETS), from its UTF-8 bytes (the Kafka key)."""
    h = np.fromiter(map(zlib.crc32, entity_keys), dtype=np.uint64, count=len(entity_keys))
    mask = np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & mask
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & mask
    h ^= h >> np.uint64(16)
    return (h % np.uint64(BUCKETS)).astype(np.int64)


def threshold(percent: float) -> int:
    """Buckets below this go to the canary."""
    return round(percent * BUCKETS / 100)


def canary_mask(entity_keys: Sequence[bytes], percent: float) -> np.ndarray:
    """True where the canary decides."""
    if percent <= 0:
        return np.zeros(len(entity_keys), dtype=bool)
    return buckets(entity_keys) < threshold(percent)


def arm_of(entity_id: str, percent: float) -> str:
    """``canary`` or ``primary``: the arm one entity is in at ``percent``."""
    return "canary" if canary_mask([entity_id.encode()], percent)[0] else "primary"

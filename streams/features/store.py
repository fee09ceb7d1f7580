"""The online feature store: one packed float32 vector per entity in Redis.

``features:{entity_id}`` holds ``ENTITY_FEATURES`` as little-endian float32, in order. A batch
of entities is read with ONE ``MGET`` (one round trip; checked on these machines to be 6-8x
faster per key than pipelined ``HMGET`` of hashes), and the values go straight into a numpy
matrix without a Python object per feature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import redis
import redis.asyncio as aioredis

from infra.errors import StreamScoreError
from schemas.features import ENTITY_FEATURES
from streams.backoff import Backoff

N_ENTITY = len(ENTITY_FEATURES)
ROW_BYTES = N_ENTITY * 4
DEFAULTS = np.array([f.default for f in ENTITY_FEATURES], dtype=np.float32)
_FLOAT32_LE = np.dtype("<f4")


class FeatureStoreError(StreamScoreError):
    """Redis did not answer after the bounded retries."""


@dataclass(frozen=True, slots=True)
class FeatureRows:
    values: np.ndarray  # (n, N_ENTITY) float32; defaults where missing
    missing: np.ndarray  # (n,) bool: no stored vector (or a malformed one) for that entity


def pack(vector: Sequence[float] | np.ndarray) -> bytes:
    array = np.asarray(vector, dtype=_FLOAT32_LE)
    if array.shape != (N_ENTITY,):
        raise ValueError(f"an entity vector has {N_ENTITY} features, got shape {array.shape}")
    return array.tobytes()


def unpack_many(raw: Sequence[bytes | None]) -> FeatureRows:
    """Rows from MGET answers; a missing or wrong-sized value gets the per-feature defaults."""
    n = len(raw)
    values = np.tile(DEFAULTS, (n, 1))
    good = [i for i, v in enumerate(raw) if v is not None and len(v) == ROW_BYTES]
    if good:
        joined = b"".join(raw[i] for i in good)  # type: ignore[misc]
        values[good] = np.frombuffer(joined, dtype=_FLOAT32_LE).reshape(len(good), N_ENTITY)
    missing = np.ones(n, dtype=bool)
    missing[good] = False
    return FeatureRows(values, missing)


def key(entity_id: str, prefix: str = "features:") -> str:
    return prefix + entity_id


# A read of the scoring path: three tries in about 0.15 s, each bounded by a timeout, then
# the pipeline's store-down policy (defaults, or back-pressure) takes over.
READ_BACKOFF = Backoff(initial_s=0.05, max_s=0.1, attempts=3)
READ_TIMEOUT_S = 0.5
_REDIS_DOWN = (redis.RedisError, OSError, TimeoutError)


class FeatureStore:
    """Async reads for the scoring path: bounded retry, then :class:`FeatureStoreError`."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "features:",
        backoff: Backoff = READ_BACKOFF,
        timeout_s: float = READ_TIMEOUT_S,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.backoff = backoff
        self.timeout_s = timeout_s
        self.on_retry = on_retry

    async def get_many(self, entity_ids: Sequence[str]) -> FeatureRows:
        keys = [self.prefix + e for e in entity_ids]

        async def mget() -> FeatureRows:
            raw = await asyncio.wait_for(self.client.mget(keys), self.timeout_s)
            return unpack_many(cast(list[bytes | None], raw))

        try:
            # Quiet: a store outage is counted (features_missing) once per batch, not logged
            # once per try of every batch.
            return await self.backoff.retry(
                mget,
                _REDIS_DOWN,
                "reading entity features",
                log_level=logging.DEBUG,
                on_retry=self.on_retry,
            )
        except _REDIS_DOWN as exc:
            raise FeatureStoreError(
                f"redis: no answer after {self.backoff.attempts} attempts: {exc}"
            ) from exc

    async def put_many(self, rows: Iterable[tuple[str, Sequence[float] | np.ndarray]]) -> int:
        mapping = {self.prefix + entity: pack(vector) for entity, vector in rows}
        if mapping:
            await self.client.mset(mapping)
        return len(mapping)


def load_sync(
    client: redis.Redis,
    rows: Iterable[tuple[str, Sequence[float] | np.ndarray]],
    prefix: str = "features:",
    chunk: int = 5_000,
) -> int:
    """Bulk load: one MSET per ``chunk`` entities, pipelined. Returns the number written."""
    written = 0
    pipe = client.pipeline(transaction=False)
    pending: dict[str, bytes] = {}
    for entity, vector in rows:
        pending[prefix + entity] = pack(vector)
        if len(pending) >= chunk:
            pipe.mset(pending)
            written += len(pending)
            pending = {}
    if pending:
        pipe.mset(pending)
        written += len(pending)
    pipe.execute()
    return written

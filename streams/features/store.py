"""The online feature store: one packed vector per entity in Redis, with its update time.

``<key_prefix><entity_id>`` holds the project's feature view (schemas/project) as
little-endian float32 in the view's order, then the time the values were computed as a
little-endian int64 of epoch milliseconds::

    [ f0 f1 ... f(n-1) | updated_at ]     4n bytes of float32, then 8 bytes

A batch of entities is read with ONE ``MGET`` (one round trip; checked on these machines to
be 6-8x faster per key than pipelined ``HMGET`` of hashes), and the values go straight into
a numpy matrix without a Python object per feature.

Freshness. A vector older than the view's ``ttl`` scores with the defaults, like an unknown
entity, and is flagged *stale* (not missing: the prediction says which). A vector of the
layout before update times (4n bytes, no time) still reads; its age is unknown, so it is
never stale, and it is counted as such. A value of any other size reads as missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import redis
import redis.asyncio as aioredis

from infra.errors import StreamScoreError
from schemas.project import Project
from streams.backoff import Backoff

_FLOAT32_LE = np.dtype("<f4")
_STAMP = np.dtype("<i8")


class FeatureStoreError(StreamScoreError):
    """Redis did not answer after the bounded retries."""


@dataclass(frozen=True, slots=True)
class VectorLayout:
    """How one project's vectors sit in Redis: key prefix, defaults, time to live."""

    prefix: str
    defaults: np.ndarray  # float32, the view's order
    ttl_ms: int | None = None

    @classmethod
    def of(cls, project: Project) -> VectorLayout:
        return cls(project.key_prefix, project.feature_defaults, project.ttl_ms)

    @property
    def width(self) -> int:
        return len(self.defaults)

    def key(self, entity_id: str) -> str:
        return self.prefix + entity_id

    def pack(self, vector: Sequence[float] | np.ndarray, updated_at_ms: int | None = None) -> bytes:
        array = np.asarray(vector, dtype=_FLOAT32_LE)
        if array.shape != (self.width,):
            raise ValueError(f"an entity vector has {self.width} features, got {array.shape}")
        stamp = int(time.time() * 1000) if updated_at_ms is None else int(updated_at_ms)
        return array.tobytes() + stamp.to_bytes(8, "little", signed=True)

    def unpack_many(self, raw: Sequence[bytes | None], now_ms: int | None = None) -> FeatureRows:
        """Rows from MGET answers: defaults where a vector is missing, malformed or stale."""
        n, width = len(raw), self.width
        values = np.tile(self.defaults, (n, 1))
        missing = np.ones(n, dtype=bool)
        stale = np.zeros(n, dtype=bool)
        unknown_age = np.zeros(n, dtype=bool)
        size = 4 * width
        full = size + 8
        if n and None not in raw and set(map(len, cast(Sequence[bytes], raw))) == {full}:
            return self._all_stamped(b"".join(cast(Sequence[bytes], raw)), n, now_ms)
        stamped, legacy = [], []
        for i, v in enumerate(raw):
            if v is not None:
                if len(v) == full:
                    stamped.append(i)
                elif len(v) == size:
                    legacy.append(i)
        if stamped:
            joined = b"".join(cast(bytes, raw[i]) for i in stamped)
            table = np.frombuffer(
                joined, dtype=np.dtype([("v", _FLOAT32_LE, (width,)), ("t", _STAMP)])
            )
            missing[stamped] = False
            if self.ttl_ms is None:
                values[stamped] = table["v"]
            else:
                now = int(time.time() * 1000) if now_ms is None else now_ms
                fresh = now - table["t"] <= self.ttl_ms
                rows = np.asarray(stamped)
                values[rows[fresh]] = table["v"][fresh]
                stale[rows[~fresh]] = True
        if legacy:
            joined = b"".join(cast(bytes, raw[i]) for i in legacy)
            values[legacy] = np.frombuffer(joined, dtype=_FLOAT32_LE).reshape(len(legacy), width)
            missing[legacy] = False
            unknown_age[legacy] = True
        return FeatureRows(values, missing, stale, unknown_age)

    def _all_stamped(self, joined: bytes, n: int, now_ms: int | None) -> FeatureRows:
        """The common case, every vector present and stamped: one decode, no per-row work."""
        table = np.frombuffer(
            joined, dtype=np.dtype([("v", _FLOAT32_LE, (self.width,)), ("t", _STAMP)])
        )
        values = table["v"].astype(np.float32)
        missing = np.zeros(n, dtype=bool)
        unknown_age = np.zeros(n, dtype=bool)
        if self.ttl_ms is None:
            return FeatureRows(values, missing, np.zeros(n, dtype=bool), unknown_age)
        now = int(time.time() * 1000) if now_ms is None else now_ms
        stale = (now - table["t"]) > self.ttl_ms
        if stale.any():
            values[stale] = self.defaults
        return FeatureRows(values, missing, stale, unknown_age)

    def ages_ms(self, raw: Sequence[bytes | None], now_ms: int) -> list[int | None]:
        """Each vector's age (None: missing, or written without a time)."""
        size = 4 * self.width + 8
        return [
            now_ms - int.from_bytes(v[-8:], "little", signed=True)
            if v is not None and len(v) == size else None
            for v in raw
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class FeatureRows:
    values: np.ndarray  # (n, width) float32; defaults where missing or stale
    missing: np.ndarray  # (n,) bool: no stored vector (or a malformed one) for that entity
    stale: np.ndarray  # (n,) bool: a vector older than the view's ttl (defaults used)
    unknown_age: np.ndarray  # (n,) bool: a vector without an update time

    @classmethod
    def defaults(cls, layout: VectorLayout, n: int) -> FeatureRows:
        """Every row missing (the store did not answer)."""
        return cls(np.tile(layout.defaults, (n, 1)), np.ones(n, dtype=bool),
                   np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))  # fmt: skip


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
        layout: VectorLayout,
        backoff: Backoff = READ_BACKOFF,
        timeout_s: float = READ_TIMEOUT_S,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.client = client
        self.layout = layout
        self.prefix = layout.prefix
        self.backoff = backoff
        self.timeout_s = timeout_s
        self.on_retry = on_retry

    async def get_many(self, entity_ids: Sequence[str]) -> FeatureRows:
        keys = [self.prefix + e for e in entity_ids]

        async def mget() -> FeatureRows:
            raw = await asyncio.wait_for(self.client.mget(keys), self.timeout_s)
            return self.layout.unpack_many(cast(list[bytes | None], raw))

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

    async def put_many(
        self, rows: Iterable[tuple[str, Sequence[float] | np.ndarray, int | None]]
    ) -> int:
        """Write (entity, vector, updated_at ms or None for now) rows with one MSET."""
        pack = self.layout.pack
        mapping = {self.prefix + entity: pack(vector, at) for entity, vector, at in rows}
        if mapping:
            await self.client.mset(mapping)
        return len(mapping)


def load_sync(
    client: redis.Redis,
    layout: VectorLayout,
    rows: Iterable[tuple[str, Sequence[float] | np.ndarray]],
    chunk: int = 5_000,
    updated_at_ms: int | None = None,
) -> int:
    """Bulk load: one MSET per ``chunk`` entities, pipelined, every vector stamped
    ``updated_at_ms`` (default: now). Returns the number written."""
    written = 0
    stamp = int(time.time() * 1000) if updated_at_ms is None else updated_at_ms
    pipe = client.pipeline(transaction=False)
    pending: dict[str, bytes] = {}
    for entity, vector in rows:
        pending[layout.prefix + entity] = layout.pack(vector, stamp)
        if len(pending) >= chunk:
            pipe.mset(pending)
            written += len(pending)
            pending = {}
    if pending:
        pipe.mset(pending)
        written += len(pending)
    pipe.execute()
    return written

"""The streaming path into the feature store: `features` topic records → Redis.

Updates are never dropped: a Redis outage holds the batch (back-pressure, retried with
backoff) instead of acking it; an undecodable record goes to the DLQ with its cause, like a
bad event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from schemas.codec import AvroCodec
from schemas.features import ENTITY_FEATURE_NAMES
from streams.feature_store import FeatureStore
from streams.metrics import Metrics
from streams.pipeline import DeadLetter, InMessage
from streams.worker import RetryConfig, Sink, dlq_headers

log = logging.getLogger(__name__)


class FeatureUpdater:
    def __init__(
        self,
        codec: AvroCodec,
        store: FeatureStore,
        sink: Sink,
        dlq_topic: str,
        metrics: Metrics,
        retry: RetryConfig = RetryConfig(),
    ) -> None:
        self.codec = codec
        self.store = store
        self.sink = sink
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.retry = retry

    async def handle(self, messages: Sequence[InMessage]) -> None:
        """Returns once every update is in Redis and every bad record in the DLQ."""
        records, bad = self.codec.decode_many([m.value for m in messages])
        # Last write wins within a batch too, as it would one by one.
        latest = {r["entity_id"]: [r[name] for name in ENTITY_FEATURE_NAMES] for r in records}
        backoff = self.retry.initial_backoff_s
        while True:
            try:
                await self.store.put_many(latest.items())
                break
            except Exception as exc:  # redis-py raises several kinds; all mean "retry"
                log.warning("feature updates held back (%s); retry in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.retry.max_backoff_s)
        self.metrics.events_out.labels("redis:features").inc(len(latest))
        dead = [DeadLetter(messages[i], type(e).__name__, e.reason, e.detail) for i, e in bad]
        for letter in dead:
            self.metrics.dlq.labels(letter.reason).inc()
        while dead:
            try:
                out = [
                    (self.dlq_topic, d.message.key, d.message.value, dlq_headers(d)) for d in dead
                ]
                await self.sink.publish(out)
                break
            except Exception as exc:  # the producer's errors vary; all mean "retry"
                log.warning("dead letters not published (%s); retrying", exc)
                await asyncio.sleep(self.retry.max_backoff_s)

"""The streaming path into the feature store: `features` topic records → Redis.

Updates are never dropped: a Redis outage holds the batch (back-pressure, retried with
backoff) instead of acking it; an undecodable record goes to the DLQ with its cause, like a
bad event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from schemas.codec import AvroCodec
from schemas.features import ENTITY_FEATURE_NAMES
from streams.backoff import Backoff, never
from streams.features.store import FeatureStore
from streams.worker.messages import DeadLetter, InMessage
from streams.worker.metrics import Metrics
from streams.worker.sink import Sink


class FeatureUpdater:
    def __init__(
        self,
        codec: AvroCodec,
        store: FeatureStore,
        sink: Sink,
        dlq_topic: str,
        metrics: Metrics,
        backoff: Backoff,
        should_stop: Callable[[], bool] = never,
    ) -> None:
        self.codec = codec
        self.store = store
        self.sink = sink
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.backoff = backoff
        self.should_stop = should_stop

    async def handle(self, messages: Sequence[InMessage]) -> None:
        """Returns once every update is in Redis and every bad record in the DLQ; raises
        :class:`~streams.backoff.Stopped` (nothing to acknowledge) when stopping first."""
        records, bad = self.codec.decode_many([m.value for m in messages])
        # Last write wins within a batch too, as it would one by one.
        latest = {r["entity_id"]: [r[name] for name in ENTITY_FEATURE_NAMES] for r in records}
        # redis-py raises several kinds of errors; all of them mean "retry".
        retried = self.metrics.retry_counter("feature-updates")
        await self.backoff.retry(
            lambda: self.store.put_many(latest.items()),
            Exception,
            "applying feature updates",
            self.should_stop,
            on_retry=retried,
        )
        self.metrics.events_out.labels("redis:features").inc(len(latest))
        dead = [DeadLetter(messages[i], type(e).__name__, e.reason, e.detail) for i, e in bad]
        for letter in dead:
            self.metrics.dlq.labels(letter.reason).inc()
        if dead:
            out = [d.out_message(self.dlq_topic) for d in dead]
            await self.backoff.retry(
                lambda: self.sink.publish(out),
                Exception,
                "dead-lettering feature updates",
                self.should_stop,
                on_retry=retried,
            )

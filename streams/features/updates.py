"""The streaming path into the feature store: `features` topic records → Redis.

A record holds the feature view's entity key and features (schemas/project); a feature the
record lacks takes the view's default. Its update time is the record's ``updated_at`` when it
has one, else its Kafka timestamp: the store keeps it, and the view's ttl is measured from it.

Updates are never dropped: a Redis outage holds the batch (back-pressure, retried with
backoff) instead of acking it; an undecodable record goes to the DLQ with its cause, like a
bad event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from schemas.project import Project
from streams.backoff import Backoff, never
from streams.features.store import FeatureStore
from streams.worker.messages import DeadLetter, InMessage
from streams.worker.metrics import Metrics
from streams.worker.sink import Sink


def vector_of(project: Project, record: dict[str, Any]) -> list[float]:
    """A features record as the store's vector: the view's features in order, defaults
    for those it lacks."""
    return [
        float(default) if record.get(name) is None else float(record[name])
        for name, default in zip(project.feature_names, project.feature_defaults.tolist(),
                                 strict=True)
    ]  # fmt: skip


def updated_at_of(record: dict[str, Any], fallback_ms: int) -> int:
    """The record's ``updated_at`` (epoch ms, or a datetime), else ``fallback_ms``."""
    value = record.get("updated_at")
    if value is None:
        return fallback_ms
    if isinstance(value, int):
        return value
    return int(value.timestamp() * 1000)


class FeatureUpdater:
    def __init__(
        self,
        project: Project,
        codec: AvroCodec,
        store: FeatureStore,
        sink: Sink,
        dlq_topic: str,
        metrics: Metrics,
        backoff: Backoff,
        should_stop: Callable[[], bool] = never,
    ) -> None:
        self.project = project
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
        entity = self.project.features.entity
        now_ms = int(time.time() * 1000)
        latest: dict[str, tuple[list[float], int]] = {}
        bad: list[tuple[int, DecodeError]] = []
        for i, message in enumerate(messages):
            try:
                record = self.codec.decode(message.value)
            except DecodeError as exc:  # a RegistryError is no bad record: it propagates
                bad.append((i, exc))
                continue
            # Last write wins within a batch too, as it would one by one.
            stamp = updated_at_of(record, message.timestamp_ms or now_ms)
            latest[record[entity]] = (vector_of(self.project, record), stamp)
        # redis-py raises several kinds of errors; all of them mean "retry".
        retried = self.metrics.retry_counter("feature-updates")
        rows = [(key, vector, at) for key, (vector, at) in latest.items()]
        await self.backoff.retry(
            lambda: self.store.put_many(rows),
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

"""What the Faust agent does with a micro-batch, as plain code over a pipeline and a sink.

Offsets are acked only after every output of the batch is acknowledged by the broker
(at-least-once). Nothing here lets an exception escape to Faust, because an exception inside
an agent acks the message (DESIGN.md): each failure is retried, or dead-lettered, explicitly.

- model server or feature store down (back-pressure mode): retry the same batch with
  backoff, so the stream stops being taken, lag grows, and nothing is acked;
- an unexpected error on a batch: score its events one by one, and dead-letter only the
  events that still fail, with their error class (one bad event never stops the worker);
- a publish that fails: publish the whole batch again (consumers dedupe by event_id).

Publishing is pipelined: while the broker acknowledges batch k, batch k+1 is scored (at most
``max_in_flight`` batches wait for acks). Batches are still acknowledged in the order they
were submitted, so an input offset is never committed ahead of an unpublished batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from inference.errors import InferenceError
from streams.feature_store import FeatureStoreError
from streams.kafka_sink import Headers, OutMessage
from streams.metrics import Metrics
from streams.pipeline import BatchResult, DeadLetter, InMessage, ScoringPipeline
from streams.topics import TopicNames

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Publishes records; returns when the broker acknowledged all of them, else raises."""

    async def publish(self, messages: Sequence[OutMessage]) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryConfig:
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    max_in_flight: int = 3


class ScoringWorker:
    def __init__(
        self,
        pipeline: ScoringPipeline,
        sink: Sink,
        topics: TopicNames,
        metrics: Metrics,
        retry: RetryConfig = RetryConfig(),
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.pipeline = pipeline
        self.sink = sink
        self.topics = topics
        self.metrics = metrics
        self.retry = retry
        self.should_stop = should_stop
        self._slots = asyncio.Semaphore(retry.max_in_flight)
        self._previous: asyncio.Future[bool] | None = None  # did the last batch get acked?
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(
        self, messages: Sequence[InMessage], acknowledge: Callable[[], Awaitable[None]]
    ) -> None:
        """Score a batch now (holding the caller while a service is down), then publish it in
        the background and call ``acknowledge`` once its outputs are acked, in order."""
        result = await self._score_until_done(messages)
        if result is None:
            return  # stopping: never acknowledged, so redelivered
        await self._slots.acquire()
        previous, done = self._previous, asyncio.get_running_loop().create_future()
        self._previous = done
        task = asyncio.create_task(self._publish_then_ack(result, acknowledge, previous, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every submitted batch is published and acknowledged."""
        if self._previous is not None:
            await asyncio.shield(self._previous)

    async def _publish_then_ack(
        self,
        result: BatchResult,
        acknowledge: Callable[[], Awaitable[None]],
        previous: asyncio.Future[bool] | None,
        done: asyncio.Future[bool],
    ) -> None:
        acked = False
        try:
            published = await self._publish_until_done(result)
            # Never acknowledge past a batch that was not: its offsets must stay uncommitted.
            if published and (previous is None or await previous):
                await acknowledge()
                acked = True
        except Exception:
            log.exception("acknowledging a batch failed; it will be redelivered")
        finally:
            self._slots.release()
            done.set_result(acked)

    async def _score_until_done(self, messages: Sequence[InMessage]) -> BatchResult | None:
        backoff = self.retry.initial_backoff_s
        while not self.should_stop():
            try:
                result = await self.pipeline.process(messages)
            except (InferenceError, FeatureStoreError) as exc:
                log.warning(
                    "batch of %d held back (%s); retry in %.2fs", len(messages), exc, backoff
                )
            except Exception:
                log.exception("unexpected error on a batch of %d; isolating", len(messages))
                isolated = await self._one_by_one(messages)
                if isolated is not None:
                    return isolated
            else:
                return result
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.retry.max_backoff_s)
        return None

    async def _one_by_one(self, messages: Sequence[InMessage]) -> BatchResult | None:
        """Per-event processing to find the events that break the batch. None: the fault is
        not in the events (a service failed meanwhile), so the caller retries the batch."""
        merged = BatchResult()
        for message in messages:
            try:
                part = await self.pipeline.process([message])
            except (InferenceError, FeatureStoreError):
                return None
            except Exception as exc:
                self.metrics.dlq.labels("processing-error").inc()
                part = BatchResult(
                    dead_letters=[
                        DeadLetter(message, type(exc).__name__, "processing-error", str(exc)[:500])
                    ]
                )
            merged.predictions += part.predictions
            merged.shadow += part.shadow
            merged.dead_letters += part.dead_letters
            for model, n in part.shadow_missing.items():
                merged.shadow_missing[model] = merged.shadow_missing.get(model, 0) + n
            merged.features_missing += part.features_missing
        return merged

    async def _publish_until_done(self, result: BatchResult) -> bool:
        backoff = self.retry.initial_backoff_s
        while not self.should_stop():
            try:
                await self._publish(result)
                return True
            except Exception as exc:  # the producer's own errors vary by client
                log.warning("publish failed (%s); retry in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.retry.max_backoff_s)
        return False

    async def _publish(self, result: BatchResult) -> None:
        t0 = time.perf_counter()
        topics = self.topics
        out: list[OutMessage] = [
            (topics.predictions, r.key, r.value, None) for r in result.predictions
        ]
        out += [(topics.shadow, r.key, r.value, None) for r in result.shadow]
        out += [
            (topics.dlq, d.message.key, d.message.value, dlq_headers(d))
            for d in result.dead_letters
        ]
        await self.sink.publish(out)
        done = time.time()
        m = self.metrics
        m.stage_seconds.labels("publish").observe(time.perf_counter() - t0)
        m.events_out.labels(topics.predictions).inc(len(result.predictions))
        m.events_out.labels(topics.shadow).inc(len(result.shadow))
        m.events_out.labels(topics.dlq).inc(len(result.dead_letters))
        for r in result.predictions:
            m.end_to_end.observe(max(done - r.event_time_ms / 1000.0, 0.0))


def dlq_headers(dead: DeadLetter) -> Headers:
    msg = dead.message
    return [
        ("error.class", dead.error_class.encode()),
        ("error.reason", dead.reason.encode()),
        ("error.message", dead.detail.encode()),
        ("source.topic", msg.topic.encode()),
        ("source.partition", str(msg.partition).encode()),
        ("source.offset", str(msg.offset).encode()),
    ]

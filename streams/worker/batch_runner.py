"""Runs micro-batches through the pipeline, publishes them, and acknowledges them in order.

An engine (streams/worker/engines/) takes batches from its consumer and hands each to
:meth:`BatchRunner.submit` with an ``acknowledge`` callback that commits the batch's input
offsets. Offsets are acknowledged only after every output of the batch is acknowledged by
the broker (at-least-once). Nothing here lets an exception escape to the engine, because an
exception inside a Faust agent acks the message (docs/architecture.md, "Delivery and
faults"): each failure is retried, or dead-lettered, explicitly.

- model server or feature store down (back-pressure mode): retry the same batch with
  backoff, so the stream stops being taken, lag grows, and nothing is acked;
- an unexpected error on a batch: score its events one by one, and dead-letter only the
  events that still fail, with their error class (one bad event never stops the worker);
- a publish that fails: publish the whole batch again (consumers dedupe by event_id).

Scoring and publishing are pipelined. While the model server scores batch k, batch k+1 is
taken, decoded and enriched (:meth:`ScoringPipeline.prepare`); while the broker acknowledges
batch k, the next ones are scored (at most ``max_in_flight`` batches wait for acks). Batches
are still scored one at a time and acknowledged in the order they were submitted, so an input
offset is never committed ahead of an unpublished batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar, NamedTuple, TypeVar

import numpy as np
from pydantic import Field

from inference.errors import InferenceError
from infra.config import Section
from infra.metrics import observe_many
from schemas.errors import RegistryError
from streams.backoff import Backoff, Stopped, never
from streams.features.store import FeatureStoreError
from streams.topics import TopicNames
from streams.worker.latency_target import LatencyTarget
from streams.worker.messages import BatchResult, DeadLetter, InMessage, OutMessage
from streams.worker.metrics import Metrics
from streams.worker.pipeline import Prepared, ScoringPipeline
from streams.worker.sink import Sink

log = logging.getLogger(__name__)

# The world is broken, not the batch: hold it and try again (a schema registry that does not
# answer is no fault of the events either).
HOLD_ON = (InferenceError, FeatureStoreError, RegistryError)
T = TypeVar("T")


class Taken(NamedTuple):
    """When a batch was taken (monotonic s), how many events, and whether the take stopped
    at the batch cap (more were waiting)."""

    at: float
    size: int
    capped: bool


class RunnerConfig(Section):
    """How far publishing runs ahead, and how long a held batch waits between tries."""

    env_prefix: ClassVar[str] = ""

    max_in_flight: int = Field(
        3, ge=1, description="Batches whose outputs may await broker acks while the next is scored."
    )
    retry_max_backoff_s: float = Field(2.0, gt=0, description="Longest wait between retries.")

    @property
    def backoff(self) -> Backoff:
        return Backoff(initial_s=min(0.1, self.retry_max_backoff_s), max_s=self.retry_max_backoff_s)


class BatchRunner:
    def __init__(
        self,
        pipeline: ScoringPipeline,
        sink: Sink,
        topics: TopicNames,
        metrics: Metrics,
        config: RunnerConfig,
        should_stop: Callable[[], bool] = never,
        target: LatencyTarget | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.target = target
        self.sink = sink
        self.topics = topics
        self.metrics = metrics
        self.backoff = config.backoff
        self.should_stop = should_stop
        self._score_retried = metrics.retry_counter("score")
        self._publish_retried = metrics.retry_counter("publish")
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._previous: asyncio.Future[bool] | None = None  # did the last batch get acked?
        self._scoring: asyncio.Task[None] | None = None  # the batch at the model server
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(
        self,
        messages: Sequence[InMessage],
        acknowledge: Callable[[], Awaitable[None]],
        *,
        taken_at: float | None = None,
        capped: bool = False,
    ) -> None:
        """Prepare a batch now (decode, features: holding the caller while a service is
        down), then score, publish and ``acknowledge`` it in the background, in order.

        Returns once the batch before this one is scored, so the caller takes and prepares
        the next batch while the model server scores this one: one batch at the model
        server, one being prepared, at most ``max_in_flight`` awaiting broker acks.
        ``taken_at`` (monotonic) and ``capped`` (the take stopped at the batch cap) are
        what the latency target learns from; ``taken_at`` defaults to now."""
        taken = Taken(time.monotonic() if taken_at is None else taken_at, len(messages), capped)
        self.metrics.events_in.inc(len(messages))
        self.metrics.batch_size.observe(len(messages))
        prepared = await self._attempt(lambda: self.pipeline.prepare(messages), messages)
        if prepared is None or self.should_stop():
            return  # stopping: neither published nor acknowledged, so redelivered
        if self._scoring is not None:
            await self._scoring  # one batch at the model server at a time, in order
        task = asyncio.create_task(self._finish(messages, prepared, acknowledge, taken))
        self._scoring = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(
        self,
        messages: Sequence[InMessage],
        prepared: Prepared | BatchResult,
        acknowledge: Callable[[], Awaitable[None]],
        taken: Taken,
    ) -> None:
        """Score a prepared batch, then hand it to publishing with its place in the order."""
        if isinstance(prepared, BatchResult):  # isolated event by event already
            result: BatchResult | None = prepared
        else:
            ready = prepared
            result = await self._attempt(lambda: self.pipeline.finish(ready), messages)
        if result is None or self.should_stop():
            # Stopping: neither published nor acknowledged, so redelivered, never doubled
            # (the engine's final commit may already be under way).
            return
        scored_at = time.monotonic()
        await self._slots.acquire()
        previous, done = self._previous, asyncio.get_running_loop().create_future()
        self._previous = done
        task = asyncio.create_task(
            self._publish_then_ack(result, acknowledge, previous, done, taken, scored_at)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> bool:
        """Wait until every submitted batch is scored, published and acknowledged (or not):
        whether the last one was acknowledged."""
        if self._scoring is not None:
            await asyncio.shield(self._scoring)
        if self._previous is None:
            return True
        return await asyncio.shield(self._previous)

    async def _publish_then_ack(
        self,
        result: BatchResult,
        acknowledge: Callable[[], Awaitable[None]],
        previous: asyncio.Future[bool] | None,
        done: asyncio.Future[bool],
        taken: Taken,
        scored_at: float,
    ) -> None:
        acked = False
        # Each prediction's event time in seconds, read once: the end-to-end histogram and
        # the latency target both want it.
        times_s = np.fromiter((r.event_time_ms for r in result.predictions), np.float64) / 1e3
        try:
            published = await self._publish_until_done(result, times_s)
            # Wait for the batch before in every case: drain() waits for the last batch only,
            # so no batch may finish before the one submitted ahead of it.
            earlier_acked = previous is None or await previous
            # Never acknowledge past a batch that was not: its offsets must stay uncommitted.
            if published and earlier_acked:
                await acknowledge()
                acked = True
                self._learn(times_s, taken, scored_at)
        except Exception:
            log.exception("acknowledging a batch failed; it will be redelivered")
        finally:
            self._slots.release()
            done.set_result(acked)

    def _learn(self, times_s: np.ndarray, taken: Taken, scored_at: float) -> None:
        """Tell the latency target what this batch measured, once it is acknowledged."""
        target = self.target
        if target is None or not len(times_s):
            return
        now, wall = time.monotonic(), time.time()
        oldest_s, newest_s = wall - float(times_s.min()), wall - float(times_s.max())
        target.observe(
            size=taken.size,
            capped=taken.capped,
            scoring_s=scored_at - taken.at,
            publish_s=now - scored_at,
            oldest_age_s=max(oldest_s - (now - taken.at), 0.0),
            oldest_latency_s=oldest_s,
            newest_latency_s=newest_s,
            now=now,
        )
        self.metrics.batch_cap.set(target.size)
        self.metrics.batch_linger.set(target.wait_s)

    async def _attempt(
        self, step: Callable[[], Awaitable[T]], messages: Sequence[InMessage]
    ) -> T | BatchResult | None:
        """One step of scoring, once the services allow; None when stopping first. An
        unexpected error isolates the batch: the whole batch, event by event."""

        async def attempt() -> T | BatchResult:
            try:
                return await step()
            except HOLD_ON:
                raise
            except Exception:
                log.exception("unexpected error on a batch of %d; isolating", len(messages))
                return await self._one_by_one(messages)

        what = f"scoring a batch of {len(messages)}"
        try:
            return await self.backoff.retry(
                attempt, HOLD_ON, what, self.should_stop, on_retry=self._score_retried
            )
        except Stopped:
            return None

    async def _one_by_one(self, messages: Sequence[InMessage]) -> BatchResult:
        """Per-event processing to find the events that break the batch. A service failing
        meanwhile (HOLD_ON) is not the events' fault: it propagates and the batch is held."""
        merged = BatchResult()
        for message in messages:
            try:
                part = await self.pipeline.process([message])
            except HOLD_ON:
                raise
            except Exception as exc:
                self.metrics.dlq.labels("processing-error").inc()
                detail = str(exc)[:500]
                letter = DeadLetter(message, type(exc).__name__, "processing-error", detail)
                part = BatchResult(dead_letters=[letter])
            merged.extend(part)
        return merged

    async def _publish_until_done(self, result: BatchResult, times_s: np.ndarray) -> bool:
        # The producer's own errors vary by client: any failure means "publish again".
        try:
            await self.backoff.retry(
                lambda: self._publish(result, times_s),
                Exception,
                "publishing a batch",
                self.should_stop,
                on_retry=self._publish_retried,
            )
        except Stopped:
            return False
        return True

    async def _publish(self, result: BatchResult, times_s: np.ndarray) -> None:
        t0 = time.perf_counter()
        topics = self.topics
        out: list[OutMessage] = [
            (topics.predictions, r.key, r.value, None) for r in result.predictions
        ]
        out += [(topics.shadow, r.key, r.value, None) for r in result.shadow]
        out += [d.out_message(topics.dlq) for d in result.dead_letters]
        await self.sink.publish(out)
        done = time.time()
        m = self.metrics
        m.stage_seconds.labels("publish").observe(time.perf_counter() - t0)
        m.events_out.labels(topics.predictions).inc(len(result.predictions))
        m.events_out.labels(topics.shadow).inc(len(result.shadow))
        m.events_out.labels(topics.dlq).inc(len(result.dead_letters))
        observe_many(m.end_to_end, np.maximum(done - times_s, 0.0))

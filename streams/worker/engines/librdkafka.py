"""`--engine librdkafka`: the scoring loop on librdkafka's batch consumer.

Same batch runner, pipeline, sink and delivery contract as the Faust agent
(streams/worker/engines/faust.py); only the consumer differs. Faust's per-message machinery
(a Message, an Event, a processor call and an ack per record) costs about 90-200 µs of CPU
per event on these machines, which caps a Faust worker at 5-11k events/s per core whatever
the pipeline does; librdkafka hands over a batch in one C call (`bench/` measures both).

At-least-once: offsets are stored only once a batch's outputs are acknowledged (the worker
acknowledges batches in order) and librdkafka commits stored offsets every
``commit_interval_s``. A batch held back by a dead primary model holds the loop, so nothing
later is stored either; ``max.poll.interval.ms`` is raised so that such a hold does not cost
the group membership.

Exactly-once (``processing_guarantee=exactly_once``): one batch at a time, its outputs and its
input offsets in one transaction (streams/worker/transactions.py); a batch whose transaction
fails is aborted and the partitions rewound to their committed offsets.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from infra.process import basic_logging
from streams.backoff import Stopped
from streams.worker.errors import FatalWorkerError, GroupConflict
from streams.worker.group import conflict_line
from streams.worker.messages import InMessage
from streams.worker.metrics import Metrics
from streams.worker.runtime import Runtime, build_runtime
from streams.worker.settings import WorkerSettings
from streams.worker.transactions import Transactions

log = logging.getLogger(__name__)


def _in_message(msg: Message) -> InMessage:
    return InMessage(
        msg.key(), msg.value() or b"", msg.topic() or "", msg.partition() or 0, msg.offset() or 0
    )


def _in_update(msg: Message) -> InMessage:
    """A features record, with its Kafka timestamp (its update time unless it says one)."""
    return InMessage(
        msg.key(), msg.value() or b"", msg.topic() or "", msg.partition() or 0,
        msg.offset() or 0, max(msg.timestamp()[1], 0),
    )  # fmt: skip


def _next_offsets(messages: list[InMessage]) -> list[TopicPartition]:
    """The offset to commit per partition: one past the last message of the batch."""
    last: dict[tuple[str, int], int] = {}
    for m in messages:
        last[(m.topic, m.partition)] = max(last.get((m.topic, m.partition), -1), m.offset)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


class LibrdkafkaEngine:
    def __init__(self, settings: WorkerSettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.stop = asyncio.Event()
        topics = settings.topics
        self.events_topic, self.features_topic = topics.events, topics.features
        self.consumer = Consumer(
            settings.kafka.librdkafka(
                **{
                    "group.id": settings.app_id,
                    "enable.auto.commit": True,
                    "enable.auto.offset.store": False,
                    "auto.commit.interval.ms": int(settings.commit_interval_s * 1000),
                    "auto.offset.reset": "earliest",
                    "max.poll.interval.ms": 1_800_000,
                    "session.timeout.ms": int(settings.session_timeout_s * 1000),
                    "heartbeat.interval.ms": int(settings.session_timeout_s * 200),
                    "fetch.wait.max.ms": max(1, int(settings.batch.timeout_s * 1000)),
                    "fetch.min.bytes": settings.batch.fetch_min_bytes,
                }
            )
        )
        # consume() blocks: it runs here, never on the event loop.
        self._io = ThreadPoolExecutor(1, thread_name_prefix="kafka-consume")
        self.transactions: Transactions | None = None
        if settings.processing_guarantee == "exactly_once":
            self.transactions = Transactions(settings.kafka.librdkafka(), settings.transaction_id)

    def _store(self, messages: list[InMessage]) -> None:
        try:
            self.consumer.store_offsets(offsets=_next_offsets(messages))
        except KafkaException as exc:  # partitions revoked meanwhile: the new owner redoes them
            log.info("offsets not stored (%s); those events will be scored again", exc)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        if self.settings.metrics_port:
            self.metrics.serve(self.settings.metrics_port)
        try:
            if self.transactions is not None:
                await loop.run_in_executor(self._io, self.transactions.start)
            rt = await build_runtime(
                self.settings, self.metrics, self.stop.is_set, batch_sink=self.transactions
            )
        except Stopped:
            await loop.run_in_executor(self._io, self.consumer.close)
            return
        self.consumer.subscribe(
            [self.events_topic, self.features_topic], on_assign=_assigned, on_revoke=_revoked
        )
        chores = [
            asyncio.create_task(self._refresh_routing(rt)),
            asyncio.create_task(self._report_lag()),
        ]
        if rt.summaries is not None:
            chores.append(asyncio.create_task(rt.summaries.run(self.settings.drift.flush_s)))
        try:
            await self._loop(rt)
        finally:
            for chore in chores:
                chore.cancel()
            await rt.runner.drain()
            if rt.summaries is not None:
                await rt.summaries.flush()
            await loop.run_in_executor(self._io, self._close)
            rt.sink.close()
            if self.transactions is not None:
                self.transactions.close()

    def _take(self, size: int, linger_s: float) -> list[Message]:
        """A micro-batch as soon as there is one: wait up to T for the first message, then
        up to ``linger_s`` for more, and take at most ``size``. Under load batches grow by
        themselves (messages queue while the previous batch is scored); at low rates an
        event does not wait T for company it will not get. The latency target chooses
        ``size`` and ``linger_s`` (streams/worker/latency_target.py); without one they are
        N and 0."""
        first = self.consumer.consume(1, self.settings.batch.timeout_s)
        if not first or size == 1:
            return first
        return first + self.consumer.consume(size - 1, linger_s)

    async def _loop(self, rt: Runtime) -> None:
        loop = asyncio.get_running_loop()
        target = rt.runner.target
        while not self.stop.is_set():
            size, linger_s = (
                (target.size, target.wait_s) if target else (self.settings.batch.size, 0.0)
            )
            batch = await loop.run_in_executor(self._io, self._take, size, linger_s)
            taken_at, capped = time.monotonic(), len(batch) >= size
            events: list[InMessage] = []
            updates: list[InMessage] = []
            for msg in batch:
                error = msg.error()
                if error is not None:
                    _check(error, self.settings.app_id)
                    continue
                if msg.topic() == self.events_topic:
                    events.append(_in_message(msg))
                else:
                    updates.append(_in_update(msg))
            if updates:
                try:
                    await rt.features.handle(updates)
                except Stopped:
                    return  # not applied, so not stored: redelivered
                self._store(updates)
            if events:
                await self._score(rt, events, taken_at, capped)

    async def _score(
        self, rt: Runtime, events: list[InMessage], taken_at: float, capped: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        transactions = self.transactions
        if transactions is None:

            async def store(done: list[InMessage] = events) -> None:
                self._store(done)

            await rt.runner.submit(events, store, taken_at=taken_at, capped=capped)
            return

        async def commit(done: list[InMessage] = events) -> None:
            offsets = _next_offsets(done)
            await loop.run_in_executor(self._io, transactions.commit, offsets, self.consumer)

        await rt.runner.submit(events, commit, taken_at=taken_at, capped=capped)
        # One transaction at a time: the next batch is taken only once this one committed.
        if not await rt.runner.drain() and not self.stop.is_set():
            await loop.run_in_executor(self._io, self._rewind)

    def _rewind(self) -> None:
        """After an aborted transaction: every assigned partition back to its committed
        offset, so the batch (and what was fetched after it) is consumed again."""
        assert self.transactions is not None
        self.transactions.abort()
        assigned = self.consumer.assignment()
        for tp in self.consumer.committed(assigned, timeout=30):
            if tp.topic == self.events_topic:
                start = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
                self.consumer.seek(TopicPartition(tp.topic, tp.partition, start))
        log.info("transaction aborted; %d partition(s) rewound to committed", len(assigned))

    async def _refresh_routing(self, rt: Runtime) -> None:
        while True:
            await asyncio.sleep(self.settings.routing.refresh_s)
            try:
                await rt.routing.refresh()
            except Exception:  # keep the last routing; never stop refreshing
                log.exception("routing refresh failed")

    async def _report_lag(self, every_s: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every_s)
            try:
                lags = await loop.run_in_executor(self._io, self._lags)
            except KafkaException as exc:
                log.info("lag not measured: %s", exc)
                continue
            for (topic, partition), lag in lags.items():
                self.metrics.consumer_lag.labels(topic, str(partition)).set(lag)

    def _lags(self) -> dict[tuple[str, int], int]:
        """Messages between each assigned partition's committed offset and its end: what a
        restart would have to score again (it grows while a batch is held back)."""
        out = {}
        for tp in self.consumer.committed(self.consumer.assignment(), timeout=5):
            _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if tp.offset >= 0 and high >= 0:
                out[(tp.topic, tp.partition)] = max(high - tp.offset, 0)
        return out

    def _close(self) -> None:
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("final commit failed: %s", exc)
        self.consumer.close()


def _assigned(_: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("partitions assigned: %s", _names(partitions))


def _revoked(_: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("partitions revoked: %s", _names(partitions))


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "none"


def _check(error: KafkaError, group: str) -> None:
    """A consumer error: logged, or fatal (the group refused us, or librdkafka gave up)."""
    if error.code() == KafkaError._PARTITION_EOF:
        return
    if error.code() == KafkaError.INCONSISTENT_GROUP_PROTOCOL:
        raise GroupConflict(conflict_line(group, "librdkafka"))
    if error.fatal():
        raise FatalWorkerError(f"Kafka consumer failed for good: {error.str()}")
    log.warning("consumer error: %s", error)


def run(settings: WorkerSettings, loglevel: str = "info") -> None:
    basic_logging(loglevel)
    asyncio.run(LibrdkafkaEngine(settings, Metrics()).run())

"""Publishes a batch's outputs through librdkafka and resolves ONE future when all are acked.

Faust's own producer (aiokafka) costs tens of microseconds of Python per record; here a
record is one C call, and a background thread serves librdkafka's delivery reports. The
batch is acknowledged when the broker acknowledged every record of it (acks=all, idempotent
producer), which is when the worker may ack the input offsets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message, Producer

from infra.errors import StreamScoreError
from streams.worker.messages import OutMessage


class Sink(Protocol):
    """Publishes records; returns when the broker acknowledged all of them, else raises."""

    async def publish(self, messages: Sequence[OutMessage]) -> None: ...


class PublishError(StreamScoreError):
    """Some records of a batch were not acknowledged; the batch must be published again."""


# How a worker's outputs are produced, by the sink and by exactly-once's transactional
# producer alike: idempotent and fully acknowledged, lingering little (latency), compressed.
OUTPUT_PRODUCER: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 2,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
}


class KafkaSink:
    def __init__(self, conf: dict[str, Any]) -> None:
        self.producer = Producer({**OUTPUT_PRODUCER, **conf})
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name="kafka-sink", daemon=True)
        self._poller.start()

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.05)

    async def publish(self, messages: Sequence[OutMessage]) -> None:
        """Returns when the broker acknowledged every message; raises PublishError if not."""
        if not messages:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[KafkaError]] = loop.create_future()
        errors: list[KafkaError] = []
        remaining = [len(messages)]

        # Served by one thread only (the poller; close() stops it before it flushes): no lock.
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err)
            remaining[0] -= 1
            if not remaining[0]:
                loop.call_soon_threadsafe(_resolve, done, errors)

        produce = self.producer.produce
        for topic, key, value, headers in messages:
            while True:
                try:
                    produce(topic, value, key, headers=headers, on_delivery=on_delivery)  # type: ignore[arg-type]
                    break
                except BufferError:  # local queue full: let the poller drain it
                    await asyncio.sleep(0.005)
        failed = await done
        if failed:
            raise PublishError(f"{len(failed)} of {len(messages)} not acknowledged: {failed[0]}")

    def close(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._poller.join(timeout_s)
        self.producer.flush(timeout_s)


def _resolve(future: asyncio.Future[list[KafkaError]], errors: list[KafkaError]) -> None:
    if not future.done():
        future.set_result(errors)

"""A steady load for the fault suite: events produced at a fixed rate from a thread, each one
remembered by where it landed, so a verifier can account for every input afterwards.

Bad records (``bad_every``) replace every n-th event by garbage, a truncated value, or a value
naming a writer schema nobody knows, in turn; ``writers`` gives extra codecs to write with in
turn (schema versions mixed). Inputs are keyed by (partition, offset) from the delivery
reports: the dead-letter topic names a bad record's source by the same pair.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from schemas.codec import AvroCodec
from schemas.errors import DecodeReason
from tests.support.events import make_events
from tests.support.kafka import EVENT_CODEC

LOG = logging.getLogger("tests.load")
BAD_KINDS = (DecodeReason.BAD_MAGIC, DecodeReason.TRUNCATED, DecodeReason.UNKNOWN_SCHEMA)


@dataclass(frozen=True, slots=True)
class Input:
    """One produced record: its event_id (None for a bad one) and what it should become."""

    event_id: str | None
    bad: str | None = None  # the DLQ reason it must get


def bad_value(kind: str, good: bytes) -> bytes:
    if kind == DecodeReason.BAD_MAGIC:
        return b"\x7fnot avro at all" + good[:8]
    if kind == DecodeReason.TRUNCATED:
        return good[: len(good) // 2]
    return good[:2] + bytes(8) + good[10:]  # a fingerprint of no known schema


class SteadyLoad:
    """``send(n, rate)`` produces in the background; ``wait()`` until all are acknowledged."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        entities: list[str],
        *,
        bad_every: int = 0,
        writers: tuple[AvroCodec, ...] = (EVENT_CODEC,),
        seed: int = 1,
    ) -> None:
        self.topic = topic
        self.entities = entities
        self.bad_every = bad_every
        self.writers = writers
        self.seed = seed
        self.inputs: dict[tuple[int, int], Input] = {}
        self.failed: list[KafkaError] = []
        self._lock = threading.Lock()
        self._count = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Idempotent, acks=all, retried for minutes: a broker outage delays inputs, never
        # loses or doubles them, so what the verifier finds is the worker's doing.
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": 300_000,
                # Refused connections during a broker outage (the fault) go to logging, where
                # pytest keeps them with the test, not to the terminal.
                "logger": LOG,
            }
        )

    @property
    def sent(self) -> int:
        return self._count

    def send(self, n: int, rate: float) -> None:
        """Start producing ``n`` events at ``rate`` per second (after any earlier send)."""
        self.wait()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(n, rate), daemon=True)
        self._thread.start()

    def snapshot(self) -> dict[tuple[int, int], Input]:
        """The inputs acknowledged so far (the load may go on meanwhile)."""
        with self._lock:
            return dict(self.inputs)

    def stop(self) -> None:
        """End the current send early (the events sent so far stand)."""
        self._stop.set()
        self.wait()

    def wait(self, timeout_s: float = 120.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)
            assert not self._thread.is_alive(), "the load did not finish"
            self._thread = None
        assert self.producer.flush(timeout_s) == 0, "inputs not acknowledged"
        assert not self.failed, f"inputs not delivered: {self.failed[:3]}"

    def _run(self, n: int, rate: float) -> None:
        self.seed += 1
        events, _ = make_events(n, seed=self.seed, entities=self.entities)
        t0, tick = time.monotonic(), 0.01
        for i, event in enumerate(events):
            if self._stop.is_set():
                break
            ahead = t0 + i / rate - time.monotonic()
            if ahead > tick:
                self.producer.poll(0)
                time.sleep(ahead)
            self._produce(event)
        self.producer.poll(0)

    def _produce(self, event: dict[str, Any]) -> None:
        index = self._count
        self._count += 1
        writer = self.writers[index % len(self.writers)]
        value, expected = writer.encode(event), Input(str(event["event_id"]))
        if self.bad_every and index % self.bad_every == self.bad_every - 1:
            kind = BAD_KINDS[(index // self.bad_every) % len(BAD_KINDS)]
            value, expected = bad_value(kind, value), Input(None, str(kind))

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                self.failed.append(err)
                return
            with self._lock:
                self.inputs[(msg.partition() or 0, msg.offset() or 0)] = expected

        while True:
            try:
                self.producer.produce(
                    self.topic, value, str(event["entity_id"]).encode(), on_delivery=delivered
                )
                return
            except BufferError:
                self.producer.poll(0.05)

    def close(self) -> None:
        self.wait()

"""The events every configuration reads: a pre-filled topic, and paced fresh events.

Events come from the simulator (streams/simulation/simulator.py) of the bench's project
(bench/stack.py), whose entities are the ones loaded in the feature store. For the latency
phases each event must carry ``event_time = now`` (the project's time field). Encoding
a whole Avro record per event would make the load generator, which shares the two cores with
everything measured, cost more than some of the configurations; so each event is encoded
once, split around its ``event_time`` field, and sent as ``head + varint(now) + tail``: a
byte-exact Avro value, checked against the codec when the templates are built.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from confluent_kafka import Producer
from fastavro import parse_schema, schemaless_writer

from bench.stack import bench_project, project_codec
from streams.simulation.simulator import EventSimulator

# The same linger as every configuration's producer; it is part of the "way in" latency.
PRODUCER_CONF = {"acks": "all", "linger.ms": 2, "queue.buffering.max.messages": 500_000}


def zigzag_varint(n: int) -> bytes:
    """Avro's encoding of a long."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Template:
    key: bytes
    head: bytes
    tail: bytes

    def value(self, event_time_ms: int) -> bytes:
        return self.head + zigzag_varint(event_time_ms) + self.tail


def templates(seed: int, entities: int, count: int) -> list[Template]:
    """``count`` simulated events, each split around its event time."""
    project = bench_project()
    time_field, entity_field = project.spec.events.time, project.spec.events.entity
    codec = project_codec("event")
    schema = project.schema("event")
    names = [f["name"] for f in schema["fields"]]
    after = schema["fields"][names.index(time_field) + 1 :]
    tail_schema = parse_schema({"type": "record", "name": "BenchTail", "fields": after})
    out = []
    sim = EventSimulator(project, seed=seed, entities=entities)
    for item in itertools.islice(sim.events(), count):
        event: dict[str, Any] = item.event
        full = codec.encode(event)
        buffer = BytesIO()
        schemaless_writer(buffer, tail_schema, {f["name"]: event[f["name"]] for f in after})
        tail = buffer.getvalue()
        millis = zigzag_varint(int(event[time_field].timestamp() * 1000))
        head = full[: len(full) - len(tail) - len(millis)]
        if head + millis + tail != full:
            raise AssertionError(f"{time_field} is not where the schema says it is")
        out.append(Template(event[entity_field].encode(), head, tail))
    probe = out[0].value(1_700_000_000_123)
    if int(codec.decode(probe)[time_field].timestamp() * 1000) != 1_700_000_000_123:
        raise AssertionError(f"a patched event does not decode to its {time_field}")
    return out


def producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONF})


def prefill(bootstrap: str, topic: str, events: list[Template], count: int) -> None:
    """``count`` events (the templates cycled, with their simulated event times)."""
    _fill(producer(bootstrap), topic, events, count)


def prefill_held(bootstrap: str, topic: str, events: list[Template], count: int) -> Producer:
    """:func:`prefill` in one Kafka transaction, left open: a consumer reading committed
    records only (librdkafka's default, so the worker's) sees none of the events until the
    caller commits it with the returned producer, then all of them at once."""
    out = Producer(
        {"bootstrap.servers": bootstrap, **PRODUCER_CONF,
         "transactional.id": f"bench-prefill-{topic}", "transaction.timeout.ms": 300_000}
    )  # fmt: skip
    out.init_transactions(30)
    out.begin_transaction()
    _fill(out, topic, events, count)
    return out


def _fill(out: Producer, topic: str, events: list[Template], count: int) -> None:
    now = zigzag_varint(int(time.time() * 1000))
    values = [(t.key, t.head + now + t.tail) for t in events]
    for i in range(count):
        key, value = values[i % len(values)]
        produce_or_wait(out, topic, key, value)
    if out.flush(60) != 0:
        raise RuntimeError(f"pre-filling {topic}: not every event was acknowledged")


def produce_or_wait(out: Producer, topic: str, key: bytes, value: bytes) -> None:
    """Produce, waiting for room while librdkafka's queue is full."""
    while True:
        try:
            out.produce(topic, value, key)
            return
        except BufferError:
            out.poll(0.05)


@dataclass(frozen=True, slots=True)
class Sent:
    """One paced phase: events sent with event_time in [first_ms, last_ms]."""

    rate: float  # asked for
    sent: int
    first_ms: int
    last_ms: int
    seconds: float

    @property
    def achieved(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


class PacedSender:
    """Sends fresh events at a fixed rate; event ``i`` of a phase is due at ``i / rate``."""

    def __init__(self, bootstrap: str, topic: str, events: list[Template]) -> None:
        self.topic = topic
        self.events = events
        self.producer = producer(bootstrap)
        self._next = 0

    def run(self, rate: float, seconds: float, tick_s: float = 0.001) -> Sent:
        produce, poll, events, topic = (
            self.producer.produce,
            self.producer.poll,
            self.events,
            self.topic,
        )
        sent, first_ms, last_ms = 0, 0, 0
        t0 = time.monotonic()
        total = max(int(rate * seconds), 1)
        while sent < total:
            elapsed = time.monotonic() - t0
            due = min(int(elapsed * rate) + 1, total)
            if due > sent:
                now_ms = int(time.time() * 1000)
                first_ms = first_ms or now_ms
                last_ms = now_ms
                for _ in range(due - sent):
                    t = events[self._next % len(events)]
                    self._next += 1
                    try:
                        produce(topic, t.value(now_ms), t.key)
                    except BufferError:
                        poll(0.01)
                        produce(topic, t.value(now_ms), t.key)
                sent = due
                poll(0)
            else:
                time.sleep(tick_s)
        seconds_taken = time.monotonic() - t0
        self.producer.flush(30)
        return Sent(rate, sent, first_ms, last_ms, seconds_taken)

    def close(self) -> None:
        self.producer.flush(30)

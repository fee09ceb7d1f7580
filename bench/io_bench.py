"""Events per second through the SDK to and from a real Kafka, on one client core.

The SDK adds validation, Avro encoding and delivery bookkeeping on the way in, and decoding
on the way out, to what librdkafka does anyway. So each SDK path runs beside a raw
confluent-kafka baseline moving the very same bytes, in the same process and the same
minute: only the ratio travels between machines. The events are the simulator's, of the
project of ``STREAMSCORE_PROJECT`` (by default the fraud example).

    taskset -c 0 .venv/bin/python bench/io_bench.py [--events 50000] [--repeats 3]
    .venv/bin/python bench/io_bench.py --bootstrap HOST:PORT   # an already running broker

Without ``--bootstrap`` it starts its own Kafka (infra.kafka_server.KafkaServer) on free
ports in a temporary state folder and stops it at the end, as tests/conftest.py does. The
client runs on one core (the lowest of those it may use, e.g. the one ``taskset`` gives);
the broker it starts is kept off that core where the machine has others.

Produce rates include the final flush: every event is acknowledged (acks=all, idempotent,
lz4, linger 5 ms for both). Consume rates run from the first record to the last, so that
joining the topic is not counted; the SDK side decodes every value, the raw side does not.
The codec's own encode and decode rates, without Kafka, are printed for scale, and so is
the client's CPU time per event (process time, librdkafka's threads included): a produce
rate can be bound by the broker's acknowledgements while the client idles, CPU cannot.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from infra.kafka_server import KafkaServer
from infra.process import free_port
from infra.settings import ServicesSettings
from streams.client import ClientSettings, EventProducer, RecordConsumer
from streams.client.producer import PRODUCER_DEFAULTS
from streams.simulation.simulator import EventSimulator
from streams.topics import TopicSpec, ensure_topics


@contextlib.contextmanager
def broker(bootstrap: str | None, client_core: int) -> Iterator[str]:
    """A bootstrap address: the one given, or a fresh Kafka kept off the client's core."""
    if bootstrap:
        yield bootstrap
        return
    others = set(range(os.cpu_count() or 1)) - {client_core}
    with tempfile.TemporaryDirectory(prefix="io-bench-") as state:
        config = ServicesSettings(
            kafka_port=free_port(), kafka_controller_port=free_port(), state_dir=Path(state)
        )
        server = KafkaServer(config)
        # The JVM inherits this; where a cpuset forbids it, the broker shares the core.
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, others or {client_core})
        try:
            server.start()
        finally:
            os.sched_setaffinity(0, {client_core})
        try:
            yield config.kafka_bootstrap
        finally:
            server.stop()


def new_topic(bootstrap: str) -> str:
    name = f"io-bench-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(name, 4)])
    return name


Rate = tuple[float, float]  # events/s by the wall clock, client CPU µs per event


class Clock:
    """Wall and process CPU time (all threads: librdkafka's too) from start() to stop()."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self, n: int) -> Rate:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return n / wall, cpu / n * 1e6


def timed(work: Callable[[], object], n: int) -> Rate:
    clock = Clock()
    clock.start()
    work()
    return clock.stop(n)


def sdk_produce(config: ClientSettings, events: list[dict[str, Any]], validate: bool) -> Rate:
    topic = new_topic(config.kafka.bootstrap)
    producer = EventProducer(config, topic, validate=validate)
    producer.flush()  # connected and holding a producer id: startup is not the rate
    rate = timed(lambda: (producer.send_many(events), producer.flush()), len(events))
    assert producer.delivered == len(events), "events were lost"
    return rate


def raw_produce(config: ClientSettings, keyed: list[tuple[bytes, bytes]]) -> Rate:
    topic = new_topic(config.kafka.bootstrap)
    producer = Producer(config.kafka.librdkafka(**PRODUCER_DEFAULTS))
    producer.flush()

    def run() -> None:
        produce, poll = producer.produce, producer.poll
        for key, value in keyed:
            produce(topic, value, key)
            poll(0)
        producer.flush()

    return timed(run, len(keyed))


def sdk_consume(config: ClientSettings, topic: str, n: int) -> Rate:
    reader = RecordConsumer(config, topic, schema="event", from_beginning=True, limit=n)
    items = iter(reader)
    next(items)  # joined and fetching
    clock = Clock()
    clock.start()
    rest = sum(1 for item in items if isinstance(item, dict))
    rate = clock.stop(rest)
    assert rest == n - 1 and reader.stats.undecodable == 0, "records were lost or undecodable"
    return rate


def raw_consume(config: ClientSettings, topic: str, n: int) -> Rate:
    """Same clock as :func:`sdk_consume`: from the first message, which is not counted."""
    consumer = Consumer(config.kafka.librdkafka(**{"group.id": uuid.uuid4().hex}))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(4)])
    clock = Clock()
    got = 0
    while got < n:
        for msg in consumer.consume(500, timeout=0.1):
            if msg.error() is None and msg.value() is not None:
                if got == 0:
                    clock.start()
                got += 1
    rate = clock.stop(got - 1)
    consumer.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    args = parser.parse_args()
    n = args.events
    core = min(os.sched_getaffinity(0))
    settings = ClientSettings()  # the project: STREAMSCORE_PROJECT's, else the fraud example
    project = settings.use_case()
    events = [s.event for s in itertools.islice(EventSimulator(project, seed=1).events(), n)]
    codec = settings.codec("event")
    entity = project.spec.events.entity
    keyed = [(e[entity].encode(), codec.encode(e)) for e in events]
    values = [v for _, v in keyed]

    with broker(args.bootstrap, core) as bootstrap:
        os.sched_setaffinity(0, {core})  # librdkafka's threads inherit it
        config = ClientSettings(kafka={"bootstrap": bootstrap})
        # Warm the broker (page cache, JIT) before anything is timed.
        sdk_produce(config, events[: min(n, 5000)], validate=False)
        best: dict[str, Rate] = {}
        for _ in range(args.repeats):  # interleaved, so that drift hits every path alike
            rates = {
                "produce  raw confluent-kafka, same bytes": raw_produce(config, keyed),
                "produce  EventProducer, validated": sdk_produce(config, events, True),
                "produce  EventProducer, validate=False": sdk_produce(config, events, False),
            }
            topic = new_topic(bootstrap)
            with EventProducer(config, topic, validate=False) as producer:
                producer.send_many(events)
            rates["consume  raw confluent-kafka, no decode"] = raw_consume(config, topic, n)
            rates["consume  RecordConsumer, decoded"] = sdk_consume(config, topic, n)
            # What the codec alone costs, for scale: no Kafka at all.
            rates["codec    encode only"] = timed(lambda: [codec.encode(e) for e in events], n)
            rates["codec    decode only"] = timed(lambda: [codec.decode(v) for v in values], n)
            for name, rate in rates.items():
                best[name] = max(best.get(name, (0.0, 0.0)), rate)

    size = sum(len(v) for _, v in keyed) / n
    print(
        f"Kafka I/O, {n} events ({size:.0f} B values), best of {args.repeats}, "
        f"client on core {core}, Python {sys.version.split()[0]}"
    )
    print(f"{'path':<42} {'events/s':>10} {'vs raw':>7} {'client CPU':>11}")
    for name, (rate, cpu_us) in best.items():
        side = name.split()[0]
        raw = [k for k in best if k.startswith(side) and "raw" in k]
        ratio = f"{rate / best[raw[0]][0]:6.2f}x" if raw else f"{'':>7}"
        print(f"{name:<42} {rate:>10,.0f} {ratio} {cpu_us:>7.1f} µs/ev")


if __name__ == "__main__":
    main()

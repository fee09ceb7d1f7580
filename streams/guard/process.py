"""The guard process (`streamscore models guard`): a librdkafka consumer feeding the Guard.

It reads `predictions`, `predictions.shadow`, `labels` and `drift.alerts` in its own consumer
group (``STREAMSCORE_GUARD_APP_ID``), and never commits: its windows live in memory, so a
restarted guard starts at the topics' ends (or their starts, ``GUARD_FROM_BEGINNING``) and
fills them again from traffic. Run ONE guard per deployment: two in the same group would
each see a part of the partitions, and so each a part of every window.

Every ``check_every_s`` it sets the gauges and judges the canary (streams/guard/guard.py).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError

from streams.client.admin import check_topic
from streams.client.errors import KAFKA_LOG
from streams.guard.guard import Guard, GuardStats
from streams.guard.settings import GuardSettings

log = logging.getLogger("streamscore.guard")


def consumer_for(settings: GuardSettings) -> Consumer:
    guard = settings.guard
    return Consumer(
        settings.kafka.librdkafka(
            **{
                "group.id": guard.app_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest" if guard.from_beginning else "latest",
                "logger": KAFKA_LOG,
            }
        )
    )


def run_guard(
    guard: Guard, stop: threading.Event, clock: Callable[[], float] = time.monotonic
) -> GuardStats:
    """Consume and judge until ``stop`` is set."""
    settings = guard.settings
    for topic in guard.topics:
        check_topic(settings, topic)
    consumer = consumer_for(settings)
    store = settings.redis.client()
    consumer.subscribe(guard.topics)
    next_check = clock()
    try:
        while not stop.is_set():
            for msg in consumer.consume(500, 0.2):
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        log.warning("reading %s: %s", msg.topic(), err.str())
                    continue
                guard.handle(msg.topic() or "", msg.value() or b"", clock())
            now = clock()
            if now >= next_check:
                guard.check(store, now)
                next_check = now + settings.guard.check_every_s
    finally:
        consumer.close()
        store.close()
        log.info("stopped: %s", guard.stats)
    return guard.stats


def run(settings: GuardSettings) -> GuardStats:
    """Run a guard until SIGTERM or SIGINT (handled when called from the main thread)."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    guard = Guard(settings)
    if settings.guard.metrics_port:
        guard.metrics.serve(settings.guard.metrics_port)
        log.info("metrics on :%d/metrics", settings.guard.metrics_port)
    return run_guard(guard, stop)

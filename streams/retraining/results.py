"""The retraining worker's side of `retraining.results`: what was answered, and answering.

A request is answered once (worker.py): at start the worker learns from this topic which
request ids have a result, and it commits a request only once its result is acknowledged,
so :func:`publish` waits for the broker's ack and retries until it has one or is stopped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from confluent_kafka import KafkaError, Producer

from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from streams.backoff import Backoff
from streams.retraining.reading import read_range, reader
from streams.retraining.settings import RetrainingSettings

log = logging.getLogger("streamscore.retraining")


def answered(settings: RetrainingSettings, results: AvroCodec) -> set[str]:
    """The request ids of every result on the topic now (unreadable results are logged)."""
    consumer = reader(settings)
    topic = settings.topics.retraining_results
    try:
        found = set()
        for msg in read_range(consumer, settings, topic, None, settings.training.read_timeout_s):
            try:
                found.add(results.decode(msg.value() or b"")["request_id"])
            except DecodeError as exc:
                log.warning("unreadable result at offset %s: %s", msg.offset(), exc)
        return found
    finally:
        consumer.close()


def publish(
    producer: Producer,
    settings: RetrainingSettings,
    results: AvroCodec,
    result: dict[str, Any],
    stop: threading.Event,
) -> bool:
    """Publish and wait for the broker's ack, retrying until acked (True) or ``stop`` is set
    (False: the request is read again on restart)."""
    value, key = results.encode(result), result["model_name"].encode()
    reports: list[KafkaError | None] = []
    for delay in Backoff(initial_s=0.5, max_s=10.0).delays():
        reports.clear()
        topic = settings.topics.retraining_results
        producer.produce(topic, value, key, on_delivery=lambda err, _: reports.append(err))
        producer.flush(30.0)
        if reports and reports[0] is None:
            return True
        log.warning("result not acknowledged (%s): retrying", reports or "timeout")
        if stop.wait(delay):
            return False
    return False  # pragma: no cover - the delays never end

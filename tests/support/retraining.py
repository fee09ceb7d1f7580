"""The retraining worker's tests: their settings, a worker in a thread, raw records on its
topics, and its metrics read from its registry (tests/streams/retraining/)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from infra.settings import ServicesSettings
from schemas.codec import codec_for
from streams.retraining.metrics import STATES, STEPS, RetrainingMetrics
from streams.retraining.settings import RetrainingSettings, on_services
from streams.retraining.worker import RetrainingWorker
from streams.topics import TopicNames, ensure_topics
from tests.support.projects import FRAUD, derived, fraud_codec

CODECS = {
    **{name: fraud_codec(name) for name in ("event", "label", "entity_features")},
    **{name: codec_for(name) for name in ("retraining_request", "retraining_result")},
}
EPOCHS = 6


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def retraining_project(folder: Path) -> Path:
    """The fraud example in ``folder``, its trainer run for :data:`EPOCHS` epochs (the
    project file's ``retraining.params``; its other params as shipped)."""
    params = {**FRAUD.spec.retraining.params, "epochs": EPOCHS}
    return derived("fraud", folder, {"retraining": {"params": params}})


def retraining_settings(stack: ServicesSettings, folder: Path) -> RetrainingSettings:
    """Settings on topics of their own (created here) and a consumer group of their own,
    for the fraud project with :data:`EPOCHS` epochs (written in ``folder``)."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    topics = TopicNames().prefixed(prefix)
    ensure_topics(stack.kafka_bootstrap, topics.specs())
    return on_services(
        stack,
        topics=topics,
        project=retraining_project(folder),
        training={
            "app_id": f"{prefix}-retrainer",
            "read_timeout_s": 20.0,
            "ready_timeout_s": 60.0,
        },
    )


def produce(
    settings: RetrainingSettings,
    topic: str,
    values: list[tuple[bytes | None, bytes | None]],
    timestamp_ms: int = 0,
) -> None:
    """Raw key/value pairs, flushed; ``timestamp_ms`` stamps them all (0: now)."""
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 5})
    for key, value in values:
        while True:
            try:
                producer.produce(topic, value=value, key=key, timestamp=timestamp_ms)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(30) == 0


def encoded(
    schema: str, records: list[dict[str, Any]], key: str
) -> list[tuple[bytes | None, bytes | None]]:
    return [(str(r[key]).encode(), CODECS[schema].encode(r)) for r in records]


@contextmanager
def running(settings: RetrainingSettings) -> Iterator[RetrainingWorker]:
    """A worker in a thread until the block ends; its exception, if any, fails the test."""
    stop = threading.Event()
    worker = RetrainingWorker(settings, stop)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            worker.run()
        except BaseException as exc:  # re-raised in the test below
            errors.append(exc)

    thread = threading.Thread(target=target, name="retrainer", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive(), "the worker did not stop"
        if errors:
            raise errors[0]


def sample(metrics: RetrainingMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def steps_taken(metrics: RetrainingMetrics) -> dict[str, float]:
    """How many times each step was left (each one's observation count)."""
    name = "streamscore_retraining_step_seconds_count"
    return {step: sample(metrics, name, step=step) for step in STEPS}


def idle(metrics: RetrainingMetrics) -> bool:
    name = "streamscore_retraining_state"
    return [sample(metrics, name, state=s) for s in STATES] == [1.0] + [0.0] * len(STEPS)

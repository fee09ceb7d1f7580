"""The canary guard against the real Kafka and Redis (no worker, no Triton).

Predictions (roles primary and canary, written with the real prediction codec) and their
labels go straight onto private topics; the guard runs in a thread of the test process and is
stopped at the end of each case. A canary whose decisions are mostly wrong is rolled back,
with its reason on `models.events` and its figures on the guard's metrics; a healthy one
stays.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import redis
from prometheus_client import generate_latest

from infra.kafka_server import KafkaServer
from infra.redis_server import RedisServer
from schemas.codec import codec_for
from streams.guard.guard import Guard
from streams.guard.process import run_guard
from streams.guard.settings import GuardSettings, on_services
from streams.routing.split import arm_of
from streams.routing.state import Canary, ModelRef, Routing, read_sync, routing_key, write_sync
from streams.topics import TopicNames, ensure_topics
from tests.support.kafka import consume, produce
from tests.support.projects import FRAUD, fraud_codec
from tests.support.waiting import metric, wait_for

PRIMARY, CANARY = ModelRef("scorer", "2"), ModelRef("scorer", "3")
PERCENT = 50.0
N = 240  # events per arm; min_labels below is 100
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
KEY = routing_key(FRAUD.name)  # the routing the guard watches: the default project's
PREDICTION, LABEL, MODEL_EVENT = (
    codec_for("prediction"),
    fraud_codec("label"),
    codec_for("model_event"),
)


def settings_for(kafka: KafkaServer) -> GuardSettings:
    topics = TopicNames().prefixed(f"guard-{uuid.uuid4().hex[:8]}")
    settings = on_services(
        kafka.config,
        topics=topics,
        guard={"app_id": f"guard-{uuid.uuid4().hex[:8]}", "metrics_port": 0,
               "from_beginning": True, "min_labels": 100, "window": 500,
               "check_every_s": 0.2},
    )  # fmt: skip
    ensure_topics(kafka.config.kafka_bootstrap, topics.specs(partitions=2))
    return settings


def entities(arm: str) -> list[str]:
    found = (f"acct-{i}" for i in range(100_000))
    return [e for e in found if arm_of(e, PERCENT) == arm][:N]


def prediction(event_id: str, entity: str, model: ModelRef, role: str, score: float) -> bytes:
    return PREDICTION.encode(
        {
            "event_id": event_id, "entity_id": entity, "model_name": model.name,
            "model_version": model.version, "score": score,
            "decision": "decline" if score >= 0.7 else "approve", "features_missing": False,
            "event_time": T0, "scored_at": T0 + timedelta(milliseconds=30),
            "timings": {"decode_ms": 0.0, "features_ms": 0.0, "infer_ms": 0.0, "publish_ms": 0.0},
            "role": role,
        }
    )  # fmt: skip


def send_traffic(settings: GuardSettings, canary_wrong_share: float) -> int:
    """N events per arm with their labels; the canary decides ``canary_wrong_share`` of its
    events wrongly, the primary 1 in 10. Some labels go before the predictions, the rest
    after. Returns the number of predictions."""
    predictions, labels = [], []
    for role, model, wrong_share in (
        ("primary", PRIMARY, 0.1),
        ("canary", CANARY, canary_wrong_share),
    ):
        for i, entity in enumerate(entities(role)):
            event_id, truth = f"{role}-{i}", (i // 10) % 2
            said = 1 - truth if i % 10 < wrong_share * 10 else truth
            value = prediction(event_id, entity, model, role, 0.9 if said else 0.1)
            predictions.append((entity.encode(), value))
            label = {"event_id": event_id, "entity_id": entity, "label": truth, "observed_at": T0}
            labels.append((entity.encode(), LABEL.encode(label)))
    bootstrap = settings.kafka.bootstrap
    produce(bootstrap, settings.topics.labels, labels[::2])
    produce(bootstrap, settings.topics.predictions, predictions)
    produce(bootstrap, settings.topics.labels, labels[1::2])
    return len(predictions)


@contextmanager
def running(settings: GuardSettings) -> Iterator[Guard]:
    guard, stop = Guard(settings), threading.Event()
    thread = threading.Thread(target=run_guard, args=(guard, stop), daemon=True)
    thread.start()
    try:
        yield guard
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def gauge(guard: Guard, name: str, model: ModelRef, role: str) -> float:
    text = generate_latest(guard.metrics.registry).decode()
    return metric(text, f'{name}{{model="{model}",role="{role}"}}')


def store_for(redis_server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(redis_server.config.redis_url)


def test_a_canary_making_wrong_decisions_is_rolled_back_and_says_why(
    kafka: KafkaServer, redis_server: RedisServer
) -> None:
    settings = settings_for(kafka)
    store = store_for(redis_server)
    write_sync(store, KEY, Routing(PRIMARY, (), Canary(CANARY, PERCENT)))
    send_traffic(settings, canary_wrong_share=0.8)
    with running(settings) as guard:
        wait_for(lambda: guard.stats.rollbacks == 1, 30, "the guard to roll the canary back")
        routing = read_sync(store, KEY)
        assert routing is not None and routing.canary is None and routing.primary == PRIMARY
        (message,) = consume(settings.kafka.bootstrap, settings.topics.model_events, 1, 20)
        event = MODEL_EVENT.decode(message.value())
        assert (event["kind"], event["model"], event["by"]) == ("rollback", "scorer:3", "guard")
        assert re.fullmatch(
            r"error rate 0\.[6-9]\d vs 0\.[01]\d on primary, margin 0\.05, \d+ labels",
            event["reason"],
        ), event["reason"]
        assert Routing.from_json(event["before"]).canary == Canary(CANARY, PERCENT)
        assert Routing.from_json(event["after"]).canary is None
        assert event["metrics"]["canary_labelled"] >= 100
        rate = gauge(guard, "streamscore_quality_error_rate", CANARY, "canary")
        assert rate > 0.5
        assert gauge(guard, "streamscore_quality_error_rate", PRIMARY, "primary") < 0.2
        assert gauge(guard, "streamscore_quality_labelled", CANARY, "canary") >= 100
        text = generate_latest(guard.metrics.registry).decode()
        assert (
            metric(text, 'streamscore_guard_rollbacks_total{model="scorer:3",reason="error-rate"}')
            == 1
        )
    store.close()


def test_a_healthy_canary_is_not_rolled_back(kafka: KafkaServer, redis_server: RedisServer) -> None:
    settings = settings_for(kafka)
    store = store_for(redis_server)
    routing = Routing(PRIMARY, (), Canary(CANARY, PERCENT))
    write_sync(store, KEY, routing)
    labelled = send_traffic(settings, canary_wrong_share=0.1)
    with running(settings) as guard:
        wait_for(lambda: guard.stats.joined == labelled, 30, "every prediction joined")
        checks = guard.stats.checks
        wait_for(lambda: guard.stats.checks >= checks + 2, 30, "a check after the joins")
        assert gauge(guard, "streamscore_quality_labelled", CANARY, "canary") == N
        assert gauge(guard, "streamscore_quality_auc", CANARY, "canary") > 0.8
        assert guard.stats.rollbacks == 0
        assert read_sync(store, KEY) == routing
    store.close()

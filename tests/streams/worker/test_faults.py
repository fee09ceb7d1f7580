"""A worker under faults of the services it needs: the primary model, a shadow, Redis.

Nothing here sleeps to show that nothing happened: each test polls the worker's metrics until
the fault is seen and retried, then checks what was (not) published and committed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import redis
import tritonclient.grpc as grpcclient

from infra.process import free_port
from infra.redis_server import RedisServer
from infra.settings import ServicesSettings
from streams.features.store import VectorLayout, load_sync
from streams.routing import ModelRef, Routing
from tests.support.events import Entities, full_rows, make_events
from tests.support.kafka import committed, consume, predictions, produce_events
from tests.support.models import DEFAULT_MODEL, expected_scores, export_model, set_routing
from tests.support.projects import DEFAULTS, FRAUD, N_EVENT, sample_features
from tests.support.waiting import metric, wait_for


def test_primary_down_holds_the_stream_and_everything_is_scored_after_reload(
    stack: ServicesSettings, start_worker: Any, entities: Entities
) -> None:
    ids, _ = entities
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")))
    worker = start_worker(
        triton={"timeout_s": 0.5, "breaker_reset_s": 0.5}, runner={"retry_max_backoff_s": 0.5}
    )
    topics, group, bootstrap = worker.topics, worker.settings.app_id, stack.kafka_bootstrap
    first, _ = make_events(50, seed=3, entities=ids)
    produce_events(bootstrap, topics.events, first)
    assert len(predictions(bootstrap, topics.predictions, 50)) == 50
    wait_for(lambda: committed(bootstrap, group, topics.events) == 50, 15, "the first commit")

    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    triton.unload_model(DEFAULT_MODEL)
    try:
        wait_for(lambda: not triton.is_model_ready(DEFAULT_MODEL, "1"), 15, "the unload")
        second, _ = make_events(60, seed=4, entities=ids)
        produce_events(bootstrap, topics.events, second)
        retried = 'streamscore_retries_total{what="score"}'
        # Held, and retried with backoff more than once (not given up, not skipped).
        wait_for(lambda: metric(worker.metrics(), retried) >= 3, 30, "three retries of the batch")
        assert metric(worker.metrics(), "streamscore_primary_failures_total") >= 1
        events_topic = f'topic="{topics.events}"'

        def held() -> float:
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in worker.metrics().splitlines()
                if line.startswith("streamscore_consumer_lag{") and events_topic in line
            )

        wait_for(lambda: held() >= 60, 15, "the lag to show the held events")
        # Nothing of the second lot is scored, and nothing of it is committed.
        assert len(consume(bootstrap, topics.predictions, 110, timeout_s=2)) == 50
        assert committed(bootstrap, group, topics.events) == 50
    finally:
        triton.load_model(DEFAULT_MODEL)
    scored = predictions(bootstrap, topics.predictions, 110)
    assert {p["event_id"] for p in scored} == {e["event_id"] for e in first + second}
    wait_for(lambda: committed(bootstrap, group, topics.events) == 110, 15, "the last commit")
    triton.close()


def test_missing_shadow_is_counted_and_the_primary_goes_on(
    stack: ServicesSettings, start_worker: Any, entities: Entities
) -> None:
    ids, _ = entities
    absent = ModelRef("no-such-model", "7")
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1"), (absent,)))
    worker = start_worker(triton={"timeout_s": 0.5})
    events, _ = make_events(80, seed=5, entities=ids)
    produce_events(stack.kafka_bootstrap, worker.topics.events, events)
    assert len(predictions(stack.kafka_bootstrap, worker.topics.predictions, 80)) == 80
    assert consume(stack.kafka_bootstrap, worker.topics.shadow, 1, timeout_s=2) == []
    missing = 'streamscore_shadow_missing_total{model="no-such-model:7"}'
    wait_for(lambda: metric(worker.metrics(), missing) == 80, 10, "the shadow-missing count")


def test_a_shadow_unloaded_mid_stream_is_counted_and_the_primary_goes_on(
    stack: ServicesSettings, start_worker: Any, entities: Entities
) -> None:
    ids, _ = entities
    shadow = export_model(stack, "unloaded-shadow", seed=13)  # loaded again for each engine
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1"), (ModelRef(shadow, "1"),)))
    worker = start_worker(triton={"timeout_s": 0.5})
    topics, bootstrap = worker.topics, stack.kafka_bootstrap
    before, _ = make_events(40, seed=14, entities=ids)
    produce_events(bootstrap, topics.events, before)
    assert len(predictions(bootstrap, topics.shadow, 40)) == 40  # the shadow scores

    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    triton.unload_model(shadow)
    wait_for(lambda: not triton.is_model_ready(shadow, "1"), 15, "the shadow's unload")
    triton.close()
    after, _ = make_events(60, seed=15, entities=ids)
    produce_events(bootstrap, topics.events, after)
    scored = predictions(bootstrap, topics.predictions, 100)
    assert {p["event_id"] for p in scored} == {e["event_id"] for e in before + after}
    missing = f'streamscore_shadow_missing_total{{model="{shadow}:1"}}'
    wait_for(lambda: metric(worker.metrics(), missing) == 60, 15, "the shadow-missing count")
    assert len(consume(bootstrap, topics.shadow, 100, timeout_s=2)) == 40


def _own_redis(tmp_path: Path) -> tuple[RedisServer, list[str], dict[str, np.ndarray]]:
    """A Redis of this test's own (to stop it), with ten entities' features."""
    server = RedisServer(ServicesSettings(redis_port=free_port(), state_dir=tmp_path))
    server.start()
    rng = np.random.default_rng(9)
    ids = [f"acct-{i}" for i in range(10)]
    vectors = {e: sample_features(rng, 1)[0, N_EVENT:] for e in ids}
    client = redis.Redis(port=server.config.redis_port)
    load_sync(client, VectorLayout.of(FRAUD), vectors.items())
    client.close()
    return server, ids, vectors


def test_redis_down_scores_with_the_default_features_after_a_bounded_retry(
    stack: ServicesSettings, start_worker: Any, tmp_path: Path
) -> None:
    own, ids, _ = _own_redis(tmp_path)
    try:
        set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")), port=own.config.redis_port)
        worker = start_worker(redis={"url": f"redis://{stack.host}:{own.config.redis_port}/0"})
        topics = worker.topics
        first, _ = make_events(30, seed=6, entities=ids)
        produce_events(stack.kafka_bootstrap, topics.events, first)
        scored = predictions(stack.kafka_bootstrap, topics.predictions, 30)
        assert [p["features_missing"] for p in scored] == [False] * 30
        own.stop()
        after, x = make_events(30, seed=7, entities=ids)
        produce_events(stack.kafka_bootstrap, topics.events, after)
        scored = predictions(stack.kafka_bootstrap, topics.predictions, 60)
    finally:
        own.stop()
    late = {p["event_id"]: p for p in scored if p["event_id"] in {e["event_id"] for e in after}}
    assert len(late) == 30  # none lost
    assert all(p["features_missing"] for p in late.values())
    # The scores are the model's on the event's own features and the per-feature defaults.
    rows = full_rows(after, x, {e: DEFAULTS for e in ids})
    want = expected_scores(stack, DEFAULT_MODEL, 1, rows)
    got = [late[e["event_id"]]["score"] for e in after]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    text = worker.metrics()
    assert metric(text, 'streamscore_features_missing_total{cause="store-down"}') == 30
    # Bounded: each batch read the store three times (two retries), then used the defaults.
    retries = metric(text, 'streamscore_retries_total{what="features"}')
    batches = metric(text, "streamscore_batch_size_count")
    assert retries >= 2
    assert retries <= 2 * batches


def test_redis_down_with_backpressure_holds_the_stream_until_it_is_back(
    stack: ServicesSettings, start_worker: Any, tmp_path: Path
) -> None:
    own, ids, _ = _own_redis(tmp_path)
    url = f"redis://{stack.host}:{own.config.redis_port}/0"
    bootstrap = stack.kafka_bootstrap
    try:
        set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")), port=own.config.redis_port)
        worker = start_worker(
            redis={"url": url},
            pipeline={"on_store_down": "backpressure"},
            runner={"retry_max_backoff_s": 0.5},
        )
        topics, group = worker.topics, worker.settings.app_id
        first, _ = make_events(20, seed=16, entities=ids)
        produce_events(bootstrap, topics.events, first)
        assert len(predictions(bootstrap, topics.predictions, 20)) == 20
        wait_for(lambda: committed(bootstrap, group, topics.events) == 20, 15, "the commit")
        own.stop()
        held, _ = make_events(25, seed=17, entities=ids)
        produce_events(bootstrap, topics.events, held)
        retried = 'streamscore_retries_total{what="score"}'
        wait_for(lambda: metric(worker.metrics(), retried) >= 2, 30, "the batch to be retried")
        assert len(consume(bootstrap, topics.predictions, 45, timeout_s=2)) == 20
        assert committed(bootstrap, group, topics.events) == 20
        own.start()  # back, but empty: the entities are unknown now; the store answers
        scored = predictions(bootstrap, topics.predictions, 45)
    finally:
        own.stop()
    late = [p for p in scored if p["event_id"] in {e["event_id"] for e in held}]
    assert len(late) == 25
    assert all(p["features_missing"] for p in late)  # unknown entities, not defaults by outage
    text = worker.metrics()
    assert metric(text, 'streamscore_features_missing_total{cause="store-down"}') == 0
    assert metric(text, 'streamscore_features_missing_total{cause="unknown-entity"}') == 25

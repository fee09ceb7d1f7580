"""The scoring worker end to end, against the real Kafka, Redis and Triton.

Each test starts real `streamscore worker` processes (tests/conftest.py::start_worker) on
its own topics, produces Avro events, and reads what comes out of the output topics.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import redis
import torch
import tritonclient.grpc as grpcclient
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from inference.repository import DEFAULT_MODEL, ModelRepository
from inference.synthetic import labelled_dataset, sample_features
from inference.training import TrainConfig, train_mlp
from infra.process import free_port
from infra.redis_server import RedisServer
from infra.settings import ServicesConfig, ServicesSettings
from schemas.codec import codec_for
from schemas.features import EVENT_FEATURES
from streams import routing
from streams.feature_store import load_sync
from streams.routing import ModelRef, Routing
from streams.topics import TopicSpec, ensure_topics

CHALLENGER = "challenger"
EVENT_CODEC = codec_for("event")
PREDICTION_CODEC = codec_for("prediction")


# -- helpers ---------------------------------------------------------------------------------
def topics_of(worker_env: dict[str, str]) -> dict[str, str]:
    return {
        k.removeprefix("STREAMSCORE_TOPIC_").lower(): v
        for k, v in worker_env.items()
        if k.startswith("STREAMSCORE_TOPIC_")
    }


def make_events(n: int, seed: int, entities: list[str]) -> tuple[list[dict[str, Any]], np.ndarray]:
    rng = np.random.default_rng(seed)
    x = sample_features(rng, n)
    events = []
    for i in range(n):
        record: dict[str, Any] = {
            "event_id": str(uuid.UUID(bytes=rng.bytes(16))),
            "entity_id": entities[i % len(entities)],
            "event_time": datetime.now(UTC),
            "segment": None,
        }
        for j, feature in enumerate(EVENT_FEATURES):
            value = x[i, j]
            if feature.avro_type == "boolean":
                record[feature.name] = bool(value)
            elif feature.avro_type == "int":
                record[feature.name] = int(value)
            else:
                record[feature.name] = float(value)
        events.append(record)
    return events, x


def produce(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for key, value in values:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(15) == 0


def produce_events(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    produce(bootstrap, topic, [(e["entity_id"].encode(), EVENT_CODEC.encode(e)) for e in events])


def consume(bootstrap: str, topic: str, n: int, timeout_s: float = 60.0) -> list[Any]:
    """The first ``n`` messages of ``topic`` (or all there are after ``timeout_s``)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < n and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None:
                    out.append(msg)
    finally:
        consumer.close()
    return out


def predictions(
    bootstrap: str, topic: str, n: int, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    return [PREDICTION_CODEC.decode(m.value()) for m in consume(bootstrap, topic, n, timeout_s)]


def committed(bootstrap: str, group: str, topic: str, partitions: int = 4) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in tps)


def group_sizes(bootstrap: str, group: str) -> list[int]:
    """Partitions of the events topic assigned to each member of the consumer group."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(10)
    return sorted(
        sum(
            1
            for tp in m.assignment.topic_partitions
            if "events" in tp.topic and "dlq" not in tp.topic
        )
        for m in description.members
    )


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(params=["faust", "librdkafka"])
def start_worker(request: pytest.FixtureRequest, start_worker: Any) -> Any:
    """Every test runs against both consumers: the Faust agent and librdkafka's loop."""

    def start(**settings: Any) -> Any:
        settings.setdefault("ENGINE", request.param)
        return start_worker(**settings)

    return start


@pytest.fixture(scope="module")
def challenger(stack: ServicesConfig) -> str:
    """A second model, trained on other data, loaded on Triton to serve as a shadow."""
    repo = ModelRepository(stack.model_repository)
    if not repo.versions(CHALLENGER):
        x, y = labelled_dataset(seed=11, n=5_000)
        repo.export(train_mlp(x, y, TrainConfig(epochs=2, seed=11)).model, CHALLENGER)
    client = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    client.load_model(CHALLENGER)
    client.close()
    return CHALLENGER


@pytest.fixture
def entities(stack: ServicesConfig) -> Iterator[tuple[list[str], dict[str, np.ndarray]]]:
    rng = np.random.default_rng(5)
    ids = [f"acct-{uuid.uuid4().hex[:10]}" for _ in range(50)]
    vectors = {e: sample_features(rng, 1)[0, len(EVENT_FEATURES) :] for e in ids}
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    load_sync(client, vectors.items())
    yield ids, vectors
    client.close()


def set_routing(port: int, host: str, value: Routing) -> None:
    client = redis.Redis(host=host, port=port)
    routing.write_sync(client, value)
    client.close()


def expected_scores(
    stack: ServicesConfig, model: str, version: int, rows: np.ndarray
) -> np.ndarray:
    module = ModelRepository(stack.model_repository).load(model, version)
    with torch.no_grad():
        return module(torch.from_numpy(rows)).numpy().ravel()


def create_topics(stack: ServicesConfig, topics: dict[str, str]) -> None:
    ensure_topics(stack.kafka_bootstrap, [TopicSpec(t, 4) for t in topics.values()])


# -- tests -----------------------------------------------------------------------------------
def test_every_event_gets_one_primary_and_one_shadow_output_with_the_models_scores(
    stack: ServicesConfig, start_worker: Any, challenger: str, entities: Any
) -> None:
    ids, vectors = entities
    set_routing(
        stack.redis_port,
        stack.host,
        Routing(ModelRef(DEFAULT_MODEL, "1"), (ModelRef(challenger, "1"),)),
    )
    worker = start_worker()
    topics = topics_of(worker.env)
    create_topics(stack, topics)
    events, x = make_events(300, seed=1, entities=ids)
    produce_events(stack.kafka_bootstrap, topics["events"], events)

    primary = predictions(stack.kafka_bootstrap, topics["predictions"], 300)
    shadow = predictions(stack.kafka_bootstrap, topics["shadow"], 300)
    sent = {e["event_id"]: i for i, e in enumerate(events)}
    assert sorted(p["event_id"] for p in primary) == sorted(sent)
    assert sorted(p["event_id"] for p in shadow) == sorted(sent)

    rows = np.stack(
        [
            np.concatenate([x[i, : len(EVENT_FEATURES)], vectors[events[i]["entity_id"]]])
            for i in range(300)
        ]
    )
    for outputs, model in ((primary, DEFAULT_MODEL), (shadow, challenger)):
        want = expected_scores(stack, model, 1, rows)
        got = np.array([0.0] * 300)
        for p in outputs:
            got[sent[p["event_id"]]] = p["score"]
            assert (p["model_name"], p["model_version"]) == (model, "1")
            assert p["features_missing"] is False
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_bad_bytes_go_to_the_dlq_with_their_cause_and_the_rest_is_scored(
    stack: ServicesConfig, start_worker: Any, entities: Any
) -> None:
    ids, _ = entities
    set_routing(stack.redis_port, stack.host, Routing(ModelRef(DEFAULT_MODEL, "1")))
    worker = start_worker()
    topics = topics_of(worker.env)
    create_topics(stack, topics)
    events, _ = make_events(40, seed=2, entities=ids)
    good = [(e["entity_id"].encode(), EVENT_CODEC.encode(e)) for e in events]
    truncated = EVENT_CODEC.encode(events[0])[:-5]
    bad = [(b"garbage", b"\x00\x01not avro at all"), (b"truncated", truncated)]
    produce(stack.kafka_bootstrap, topics["events"], good[:20] + bad + good[20:])

    scored = predictions(stack.kafka_bootstrap, topics["predictions"], 40)
    assert sorted(p["event_id"] for p in scored) == sorted(e["event_id"] for e in events)
    dead = consume(stack.kafka_bootstrap, topics["dlq"], 2)
    by_key = {m.key(): (m.value(), dict(m.headers())) for m in dead}
    assert set(by_key) == {b"garbage", b"truncated"}
    assert by_key[b"garbage"][0] == bad[0][1]  # original bytes kept
    assert by_key[b"truncated"][1]["error.reason"] == b"truncated"
    assert by_key[b"garbage"][1]["error.class"] == b"DecodeError"
    for _value, headers in by_key.values():
        assert headers["source.topic"] == topics["events"].encode()
        assert int(headers["source.offset"]) >= 0 and headers["error.message"]


def test_primary_down_holds_the_stream_and_everything_is_scored_after_reload(
    stack: ServicesConfig, start_worker: Any, entities: Any
) -> None:
    ids, _ = entities
    set_routing(stack.redis_port, stack.host, Routing(ModelRef(DEFAULT_MODEL, "1")))
    worker = start_worker(TRITON_TIMEOUT_S="0.5", BREAKER_RESET_S="0.5")
    topics = topics_of(worker.env)
    group = worker.env["STREAMSCORE_APP_ID"]
    create_topics(stack, topics)
    first, _ = make_events(50, seed=3, entities=ids)
    produce_events(stack.kafka_bootstrap, topics["events"], first)
    assert len(predictions(stack.kafka_bootstrap, topics["predictions"], 50)) == 50
    wait_for(lambda: committed(stack.kafka_bootstrap, group, topics["events"]) == 50, 15, "commit")

    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    triton.unload_model(DEFAULT_MODEL)
    try:
        wait_for(lambda: not triton.is_model_ready(DEFAULT_MODEL, "1"), 15, "unload")
        second, _ = make_events(60, seed=4, entities=ids)
        produce_events(stack.kafka_bootstrap, topics["events"], second)
        time.sleep(3)
        # Nothing of the second lot is scored, and nothing of it is committed.
        assert len(consume(stack.kafka_bootstrap, topics["predictions"], 110, timeout_s=3)) == 50
        assert committed(stack.kafka_bootstrap, group, topics["events"]) == 50
        assert metric(worker.metrics(), "streamscore_primary_failures_total") >= 1
        events_topic = f'topic="{topics["events"]}"'

        def held() -> float:
            lines = worker.metrics().splitlines()
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in lines
                if line.startswith("streamscore_consumer_lag{") and events_topic in line
            )

        wait_for(lambda: held() >= 60, 15, "the lag to show the held events")
    finally:
        triton.load_model(DEFAULT_MODEL)
    scored = predictions(stack.kafka_bootstrap, topics["predictions"], 110)
    assert {p["event_id"] for p in scored} == {e["event_id"] for e in first + second}
    wait_for(lambda: committed(stack.kafka_bootstrap, group, topics["events"]) == 110, 15, "commit")
    triton.close()


def test_missing_shadow_is_counted_and_the_primary_goes_on(
    stack: ServicesConfig, start_worker: Any, entities: Any
) -> None:
    ids, _ = entities
    absent = ModelRef("no-such-model", "7")
    set_routing(stack.redis_port, stack.host, Routing(ModelRef(DEFAULT_MODEL, "1"), (absent,)))
    worker = start_worker(TRITON_TIMEOUT_S="0.5")
    topics = topics_of(worker.env)
    create_topics(stack, topics)
    events, _ = make_events(80, seed=5, entities=ids)
    produce_events(stack.kafka_bootstrap, topics["events"], events)
    assert len(predictions(stack.kafka_bootstrap, topics["predictions"], 80)) == 80
    assert consume(stack.kafka_bootstrap, topics["shadow"], 1, timeout_s=2) == []
    wait_for(
        lambda: (
            metric(worker.metrics(), 'streamscore_shadow_missing_total{model="no-such-model:7"}')
            == 80
        ),
        10,
        "shadow-missing count",
    )


def test_redis_down_scores_with_defaults_and_flags_it(
    stack: ServicesConfig, start_worker: Any, tmp_path: Any
) -> None:
    own = RedisServer(ServicesSettings(redis_port=free_port(), state_dir=tmp_path).to_config())
    own.start()
    try:
        set_routing(own.config.redis_port, stack.host, Routing(ModelRef(DEFAULT_MODEL, "1")))
        rng = np.random.default_rng(9)
        ids = [f"acct-{i}" for i in range(10)]
        load_sync(
            redis.Redis(port=own.config.redis_port),
            [(e, sample_features(rng, 1)[0, len(EVENT_FEATURES) :]) for e in ids],
        )
        worker = start_worker(redis_port=own.config.redis_port)
        topics = topics_of(worker.env)
        create_topics(stack, topics)
        before, _ = make_events(30, seed=6, entities=ids)
        produce_events(stack.kafka_bootstrap, topics["events"], before)
        first = predictions(stack.kafka_bootstrap, topics["predictions"], 30)
        assert [p["features_missing"] for p in first] == [False] * 30
        own.stop()
        after, _ = make_events(30, seed=7, entities=ids)
        produce_events(stack.kafka_bootstrap, topics["events"], after)
        scored = predictions(stack.kafka_bootstrap, topics["predictions"], 60)
    finally:
        own.stop()
    late = {p["event_id"]: p for p in scored if p["event_id"] in {e["event_id"] for e in after}}
    assert len(late) == 30  # none lost
    assert all(p["features_missing"] for p in late.values())


def test_promote_mid_stream_switches_model_without_restart(
    stack: ServicesConfig, start_worker: Any, challenger: str, entities: Any
) -> None:
    ids, _ = entities
    set_routing(stack.redis_port, stack.host, Routing(ModelRef(DEFAULT_MODEL, "1")))
    worker = start_worker()
    topics = topics_of(worker.env)
    create_topics(stack, topics)
    before, _ = make_events(20, seed=8, entities=ids)
    produce_events(stack.kafka_bootstrap, topics["events"], before)
    assert {
        p["model_name"] for p in predictions(stack.kafka_bootstrap, topics["predictions"], 20)
    } == {DEFAULT_MODEL}

    from typer.testing import CliRunner

    from streams.cli import app

    result = CliRunner().invoke(
        app,
        [
            "models",
            "promote",
            f"{challenger}:1",
            "--redis-url",
            f"redis://{stack.host}:{stack.redis_port}/0",
            "--triton-url",
            stack.triton_grpc_url,
        ],
    )
    assert result.exit_code == 0, result.output
    time.sleep(1.0)  # workers re-read routing every 0.2 s here
    after, _ = make_events(20, seed=9, entities=ids)
    produce_events(stack.kafka_bootstrap, topics["events"], after)
    scored = predictions(stack.kafka_bootstrap, topics["predictions"], 40)
    late = [p for p in scored if p["event_id"] in {e["event_id"] for e in after}]
    assert len(late) == 20
    assert {(p["model_name"], p["model_version"]) for p in late} == {(challenger, "1")}
    assert worker.proc.poll() is None  # the same process, never restarted


def test_two_workers_share_the_partitions(
    stack: ServicesConfig, start_worker: Any, entities: Any
) -> None:
    ids, _ = entities
    set_routing(stack.redis_port, stack.host, Routing(ModelRef(DEFAULT_MODEL, "1")))
    first = start_worker()
    second = start_worker()
    topics = topics_of(first.env)
    create_topics(stack, topics)
    group = first.env["STREAMSCORE_APP_ID"]
    wait_for(lambda: group_sizes(stack.kafka_bootstrap, group) == [2, 2], 60, "two members")
    events, _ = make_events(400, seed=10, entities=ids)
    produce_events(stack.kafka_bootstrap, topics["events"], events)
    scored = predictions(stack.kafka_bootstrap, topics["predictions"], 400)
    assert {p["event_id"] for p in scored} == {e["event_id"] for e in events}
    wait_for(
        lambda: (
            metric(first.metrics(), "streamscore_events_in_total") > 0
            and metric(second.metrics(), "streamscore_events_in_total") > 0
        ),
        30,
        "both workers to take events",
    )

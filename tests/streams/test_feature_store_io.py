"""The feature store's two ways in: `features load` (bulk) and the `features` topic (live)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import redis
from confluent_kafka import Producer
from typer.testing import CliRunner

from infra.settings import ServicesConfig
from schemas.features import ENTITY_FEATURES
from streams.cli import app
from streams.feature_store import DEFAULTS, unpack_many
from streams.sdk import RecordConsumer, RecordProducer, Undecodable
from streams.settings import ClientConfig
from streams.topics import TopicSpec, ensure_topics


def _stored(config: ServicesConfig, entities: list[str]) -> Any:
    client = redis.Redis(host=config.host, port=config.redis_port)
    try:
        return unpack_many(client.mget([f"features:{e}" for e in entities]))
    finally:
        client.close()


def test_load_writes_every_entity_and_absent_features_take_defaults(
    stack: ServicesConfig, tmp_path: Path
) -> None:
    ids = [f"bulk-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    lines = [
        {"entity_id": ids[0], "avg_amount_30d": 10.0, "failed_logins_7d": 2.0},
        {"entity_id": ids[1], **{f.name: i / 10 for i, f in enumerate(ENTITY_FEATURES)}},
        {"entity_id": ids[2]},
    ]
    path = tmp_path / "features.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    url = f"redis://{stack.host}:{stack.redis_port}/0"
    result = CliRunner().invoke(app, ["features", "load", str(path), "--redis-url", url])
    assert result.exit_code == 0, result.output
    assert "loaded 3 entities" in result.output
    rows = _stored(stack, ids)
    assert not rows.missing.any()
    assert rows.values[0][0] == 10.0 and rows.values[0][6] == 2.0
    np.testing.assert_allclose(rows.values[1], np.arange(len(ENTITY_FEATURES)) / 10, rtol=1e-6)
    np.testing.assert_array_equal(rows.values[2], DEFAULTS)


def test_a_bad_line_is_named_and_nothing_is_loaded(stack: ServicesConfig, tmp_path: Path) -> None:
    good, bad = f"ok-{uuid.uuid4().hex[:8]}", f"bad-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "features.csv"
    path.write_text(f"entity_id,txn_count_7d\n{good},4\n{bad},many\n")
    url = f"redis://{stack.host}:{stack.redis_port}/0"
    result = CliRunner().invoke(app, ["features", "load", str(path), "--redis-url", url])
    assert result.exit_code == 1
    assert "line 3, field 'txn_count_7d'" in result.output
    assert _stored(stack, [good, bad]).missing.all()


def test_updates_on_the_features_topic_reach_redis(
    stack: ServicesConfig, start_worker: Any
) -> None:
    worker = start_worker()
    topics = {
        k.removeprefix("STREAMSCORE_TOPIC_").lower(): v
        for k, v in worker.env.items()
        if k.startswith("STREAMSCORE_TOPIC_")
    }
    ensure_topics(stack.kafka_bootstrap, [TopicSpec(t, 4) for t in topics.values()])
    entity = f"live-{uuid.uuid4().hex[:8]}"
    config = ClientConfig(kafka_bootstrap=stack.kafka_bootstrap)
    with RecordProducer(config, topics["features"], "entity_features", "entity_id") as producer:
        producer.send({"entity_id": entity, "txn_count_24h": 1.0})
        producer.send({"entity_id": entity, "txn_count_24h": 9.0})  # the later one wins
    bad = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    bad.produce(topics["features"], key=b"broken", value=b"\xc3\x01nonsense")
    bad.flush(10)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _stored(stack, [entity]).missing.all():
        time.sleep(0.2)
    rows = _stored(stack, [entity])
    assert not rows.missing.any()
    assert rows.values[0][2] == 9.0
    dead = next(
        iter(
            RecordConsumer(config, topics["dlq"], schema="event", from_beginning=True, timeout_s=20)
        )
    )
    assert isinstance(dead, Undecodable) and dead.key == b"broken"

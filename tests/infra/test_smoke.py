"""Smoke test of the real services: Kafka round trip, Redis read/write, a Triton score."""

from __future__ import annotations

import uuid

import numpy as np
import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Consumer, Producer

from inference.contract import tensors_of
from inference.repository import ModelRepository
from infra.settings import ServicesSettings
from streams.topics import TopicSpec, ensure_topics
from tests.support.models import DEFAULT_MODEL
from tests.support.projects import FRAUD


def test_kafka_produce_and_read_back(stack: ServicesSettings) -> None:
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    assert ensure_topics(stack.kafka_bootstrap, [TopicSpec(topic, 2)]) == [topic]
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "enable.idempotence": True})
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(20)}
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value)
    assert producer.flush(10) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": stack.kafka_bootstrap,
            "group.id": f"smoke-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    received: dict[bytes, bytes] = {}
    try:
        for _ in range(100):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                received[msg.key()] = msg.value()
            if len(received) == len(sent):
                break
    finally:
        consumer.close()
    assert received == sent


def test_redis_write_and_read(stack: ServicesSettings) -> None:
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    vector = np.arange(8, dtype=np.float32)
    client.set("features:smoke", vector.tobytes())
    assert np.array_equal(np.frombuffer(client.get("features:smoke"), np.float32), vector)
    client.close()


def test_triton_scores_like_the_exported_model(stack: ServicesSettings) -> None:
    repo = ModelRepository(stack.model_repository)
    version = repo.versions(DEFAULT_MODEL)[-1]
    tensors = tensors_of(FRAUD, DEFAULT_MODEL)
    rows = np.random.default_rng(7).random((64, tensors.width), dtype=np.float32) * 10

    client = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    assert client.is_model_ready(DEFAULT_MODEL, str(version))
    tensor = grpcclient.InferInput(tensors.input, list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    result = client.infer(DEFAULT_MODEL, [tensor], model_version=str(version))
    scores = result.as_numpy(tensors.output)
    client.close()

    expected = repo.load(DEFAULT_MODEL, version).predict(rows)
    assert scores.shape == (64, 1)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert scores.min() >= 0.0 and scores.max() <= 1.0

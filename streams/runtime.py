"""What a scoring worker runs on, whichever consumer feeds it (Faust agent or librdkafka)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
import tritonclient.grpc.aio as grpcaio

from schemas.codec import codec_for
from streams.feature_store import FeatureStore
from streams.feature_updates import FeatureUpdater
from streams.kafka_sink import KafkaSink
from streams.metrics import Metrics
from streams.model_pool import ModelPool
from streams.pipeline import ScoringPipeline
from streams.worker import ScoringWorker
from streams.worker_settings import WorkerConfig

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    worker: ScoringWorker
    pool: ModelPool
    features: FeatureUpdater
    sink: KafkaSink


async def build_runtime(
    config: WorkerConfig, metrics: Metrics, should_stop: Callable[[], bool]
) -> Runtime:
    """Clients, models and the scoring worker; waits (back-pressure) until Triton answers."""
    redis_client = aioredis.from_url(
        config.redis_url,
        password=config.redis_password.get_secret_value() if config.redis_password else None,
        socket_timeout=1.0,
    )
    triton = grpcaio.InferenceServerClient(
        config.triton.url, ssl=config.triton.ssl, root_certificates=config.triton.root_certificates
    )
    pool = ModelPool(triton, redis_client, config.triton, config.default_model)
    delay = 0.2
    while True:
        try:
            router = await pool.start()
            break
        except Exception as exc:  # Triton or Redis not there yet: wait, do not ack anything
            log.warning("cannot start scoring yet (%s); retry in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    registry = config.client.schema_registry_url
    store = FeatureStore(redis_client)
    sink = KafkaSink(config.client.kafka_conf())
    pipeline = ScoringPipeline(
        codec_for("event", registry_url=registry, logical_types=False),
        codec_for("prediction", registry_url=registry, logical_types=False),
        store,
        router,
        config.pipeline,
        metrics,
    )
    worker = ScoringWorker(
        pipeline,
        sink,
        config.client.topics,
        metrics,
        config.retry,
        should_stop=should_stop,
    )
    log.info("scoring with primary %s, shadows %s", pool.routing and pool.routing.primary,
             pool.routing and pool.routing.shadows)  # fmt: skip
    updater = FeatureUpdater(
        codec_for("entity_features", registry_url=registry),
        store,
        sink,
        config.client.topics.dlq,
        metrics,
        config.retry,
    )
    return Runtime(worker, pool, updater, sink)

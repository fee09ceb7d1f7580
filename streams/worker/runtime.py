"""What a scoring worker runs on, whichever engine feeds it (Faust agent or librdkafka)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drift.summary import RepositoryReferences, WindowAccumulator
from streams.backoff import Backoff
from streams.client.admin import check_topic
from streams.client.errors import ClientError
from streams.features.store import FeatureStore, VectorLayout
from streams.features.updates import FeatureUpdater
from streams.routing.live import LiveRouting
from streams.worker.batch_runner import BatchRunner
from streams.worker.errors import FatalWorkerError
from streams.worker.metrics import Metrics
from streams.worker.monitoring import SummaryPublisher
from streams.worker.pipeline import ScoringPipeline
from streams.worker.settings import WorkerSettings
from streams.worker.sink import KafkaSink, Sink

log = logging.getLogger(__name__)

# Triton or Redis not there yet at start: wait for them, taking nothing from the stream.
START_BACKOFF = Backoff(initial_s=0.2, max_s=5.0)


@dataclass(slots=True)
class Runtime:
    runner: BatchRunner
    routing: LiveRouting
    features: FeatureUpdater
    sink: KafkaSink
    summaries: SummaryPublisher | None = None


def _partitions(settings: WorkerSettings) -> int | None:
    """The events topic's partition count (None when it cannot be had yet)."""
    try:
        return check_topic(settings, settings.topics.events, timeout_s=5.0)
    except ClientError as exc:
        log.info("events topic's partitions unknown (%s): drift watermarks start at once", exc)
        return None


async def _warm(routing: LiveRouting, store: FeatureStore) -> None:
    """One request to each routed model and one feature read before the first batch: each
    opens its stream or connection now, so that the first events do not wait for it (they
    took up to 150 ms more in the demo). A failure here is left to the first batch."""
    models = routing.models
    x = np.zeros((1, routing.project.layout.width), dtype=np.float32)
    for model in (models.primary, *models.shadows):
        with contextlib.suppress(Exception):
            await model.predict(x)
    with contextlib.suppress(Exception):
        await store.get_many(["warm-up"])


async def build_runtime(
    settings: WorkerSettings,
    metrics: Metrics,
    should_stop: Callable[[], bool],
    batch_sink: Sink | None = None,
) -> Runtime:
    """Clients, models and the batch runner; waits (back-pressure) until Triton answers.
    ``batch_sink`` publishes the batches' outputs instead of the runtime's own sink (the
    exactly-once engine's transactions); feature-update dead letters and drift summaries
    always go through the runtime's sink.

    Raises :class:`~streams.backoff.Stopped` when the worker is told to stop meanwhile, and
    :class:`~streams.worker.errors.FatalWorkerError` when a routed model's tensors on Triton
    do not fit the project's inputs (one line naming both shapes)."""
    project = settings.use_case()
    layout = VectorLayout.of(project)
    store_client = settings.redis.async_client()
    routing = LiveRouting(
        settings.triton.async_client(), store_client, settings.triton, settings.routing, project
    )
    await START_BACKOFF.retry(
        routing.start, Exception, "starting to score (Triton and Redis)", should_stop
    )
    problems = await START_BACKOFF.retry(
        routing.check, Exception, "checking the models' tensors on Triton", should_stop
    )
    if problems:
        raise FatalWorkerError("; ".join(problems))
    await _warm(routing, FeatureStore(store_client, layout))
    current = routing.routing
    log.info("scoring project %s with primary %s, shadows %s", project.name,
             current and current.primary,
             current and [str(s) for s in current.shadows])  # fmt: skip
    codec = settings.codec
    store = FeatureStore(store_client, layout, on_retry=metrics.retry_counter("features"))
    sink = KafkaSink(settings.kafka.librdkafka())
    monitor = (
        WindowAccumulator(
            RepositoryReferences(settings.model_repository, project.layout.columns),
            settings.window,
            partitions=_partitions(settings),
            feature_columns=project.layout.feature_columns,
        )
        if settings.drift.enabled
        else None
    )
    pipeline = ScoringPipeline(
        project,
        codec("event", logical_types=False),
        codec("prediction", logical_types=False),
        store,
        routing,
        settings.pipeline,
        metrics,
        monitor,
    )
    runner = BatchRunner(
        pipeline,
        sink if batch_sink is None else batch_sink,
        settings.topics,
        metrics,
        settings.runner,
        should_stop=should_stop,
        # Faust's take has a fixed N and T: the latency target steers librdkafka's takes.
        target=settings.batch.latency_target() if settings.engine == "librdkafka" else None,
    )
    updater = FeatureUpdater(
        project,
        codec("entity_features", logical_types=False),
        store,
        sink,
        settings.topics.dlq,
        metrics,
        settings.runner.backoff,
        should_stop,
    )
    summaries = None
    if monitor is not None:
        summary_codec = codec("window_summary", logical_types=False)
        summaries = SummaryPublisher(
            monitor, summary_codec, sink, settings.topics.drift_summaries, metrics,
            settings.runner.backoff, should_stop,
        )  # fmt: skip
    return Runtime(runner, routing, updater, sink, summaries)

"""`streamscore replay`: a past range of events scored by any model version, into a topic of
its own, through the same pipeline the workers run.

A candidate can so be backtested on history before it ever shadows live traffic, and
`streamscore report shadow --shadow-topic TOPIC` compares it with what the primary said at
the time. Features come from the online store as it is now (as they would for a live event
now); Triton pads every forward pass to a fixed row multiple (inference/triton_backend.py), so
replaying the primary's own version reproduces its live scores exactly when the features
have not changed since. Events that cannot be scored are counted, not dead-lettered again:
the live worker already did that. The events topic is read from the range's start by
timestamp (streams/report/reading.py), never from the beginning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inference.contract import tensors_of
from inference.triton_client import TritonModel
from streams.client.admin import check_topic
from streams.features.store import FeatureStore, VectorLayout
from streams.report.reading import RangeReader, TimeRange
from streams.routing import ModelRef, RoutedModels
from streams.topics import TopicSpec, ensure_topics
from streams.worker.messages import InMessage
from streams.worker.metrics import Metrics
from streams.worker.pipeline import ScoringPipeline
from streams.worker.settings import WorkerSettings
from streams.worker.sink import KafkaSink

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class ReplayStats:
    read: int = 0  # events read from the topic's offsets for the range
    scored: int = 0  # predictions written (events in the range that could be scored)
    outside: int = 0  # events read that fall outside the range by event_time
    unscorable: int = 0  # undecodable or invalid events (the live worker dead-lettered them)


class _Fixed:
    """Routes for the pipeline: one model, never changing."""

    def __init__(self, model: TritonModel) -> None:
        self.models = RoutedModels(model)


async def replay(
    settings: WorkerSettings,
    window: TimeRange,
    ref: ModelRef,
    to_topic: str,
    lateness_s: float,
    progress: Progress,
) -> ReplayStats:
    # the live outputs' partitioning: an event's replayed output lands where its live one is
    partitions = check_topic(settings, settings.topics.predictions)
    ensure_topics(settings.kafka.bootstrap, [TopicSpec(to_topic, partitions)])
    project = settings.use_case()
    triton = settings.triton.async_client()
    store = settings.redis.async_client()
    model = TritonModel(triton, ref.name, ref.version, settings.triton,
                        tensors_of(project, ref.name))  # fmt: skip
    await model.load()
    codec = settings.codec
    pipeline = ScoringPipeline(
        project, codec("event", logical_types=False), codec("prediction", logical_types=False),
        FeatureStore(store, VectorLayout.of(project)), _Fixed(model), settings.pipeline, Metrics(),
    )  # fmt: skip
    sink = KafkaSink(settings.kafka.librdkafka())
    reader = RangeReader(
        settings, settings.topics.events, window, int(lateness_s * 1000), chunk=2000, keys=True
    )
    stats = ReplayStats()
    try:
        while (chunk := reader.read()) is not None:
            assert chunk.keys is not None and chunk.offsets is not None
            messages = [
                InMessage(key, value, settings.topics.events, int(p), offset)
                for key, value, p, offset in zip(
                    chunk.keys, chunk.values, chunk.partitions, chunk.offsets, strict=True
                )
            ]
            result = await pipeline.process(messages)
            dead = {id(d.message) for d in result.dead_letters}
            scored = np.fromiter(
                (m.partition for m in messages if id(m) not in dead),
                np.int16,
                len(messages) - len(dead),
            )
            times = np.fromiter((r.event_time_ms for r in result.predictions), np.int64)
            reader.advance(scored, times)
            stats.read += len(messages)
            stats.unscorable += len(result.dead_letters)
            kept = [
                r for r in result.predictions
                if window.start_ms <= r.event_time_ms < window.end_ms
            ]  # fmt: skip
            stats.outside += len(result.predictions) - len(kept)
            await sink.publish([(to_topic, r.key, r.value, None) for r in kept])
            stats.scored += len(kept)
            progress(reader.read_count, reader.total)
    finally:
        reader.close()
        sink.close()
        await asyncio.gather(triton.close(), store.aclose(), return_exceptions=True)
    return stats

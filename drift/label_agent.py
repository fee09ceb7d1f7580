"""The drift agent's label join: labels and predictions joined by event_id, and the model's
error watched per version (drift/labels.py, drift/error_watch.py); wired by drift/agent.py."""

from __future__ import annotations

import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, cast

import faust

from drift.durable import changelogs_of
from drift.labels import LabelJoin
from drift.metrics import DriftMetrics
from drift.settings import DriftAgentSettings
from schemas.errors import DecodeError


def label_agent(
    app: faust.App,
    settings: DriftAgentSettings,
    metrics: DriftMetrics,
    alerts_topic: Any,
    alert_codec: Any,
    dead_letter: Callable[[Any, DecodeError], Awaitable[None]],
) -> None:
    from drift.agent import _partitions, _table  # the agent imports this module
    from drift.error_watch import ErrorWatch

    topics = settings.topics
    project = settings.use_case()
    field = project.spec.labels.field
    n = _partitions(settings, topics.labels)
    codec = settings.codec
    label_codec = codec("label", logical_types=False)
    prediction_codec = codec("prediction", logical_types=False)
    joins = _table(app, settings.kafka, "joins", n)
    watches = _table(app, settings.kafka, "errors", n)
    join = LabelJoin(joins, ttl_s=settings.agent.label_ttl_s)
    watch = ErrorWatch(watches, settings.detectors)
    source = app.topic(topics.labels, topics.predictions, key_type=bytes, value_type=bytes)
    expire_every_s = min(10.0, settings.agent.label_ttl_s / 4)
    cut = int(settings.agent.label_sample * 2**32)

    def sampled(event_id: str) -> bool:
        # Each join entry costs a changelog record: a fixed share of events, the same share
        # on both sides, keeps the error stream unbiased at a fraction of the cost.
        return zlib.crc32(event_id.encode()) < cut

    @app.agent(source, name="labels")
    async def labels(stream: faust.StreamT[bytes]) -> None:
        s = cast(Any, stream)
        last_expiry = time.time()
        async for taken in s.noack_take(1000, within=0.2):
            now = time.time()
            for event in taken:
                s._set_current_event(event)
                msg = event.message
                is_label = msg.topic == topics.labels
                try:
                    record = (label_codec if is_label else prediction_codec).decode(msg.value)
                except DecodeError as exc:
                    metrics.labels.labels("undecodable").inc()
                    await dead_letter(msg, exc)
                    continue
                if not sampled(record["event_id"]):
                    continue
                if not is_label and len(joins) >= settings.agent.label_max_entries:
                    metrics.labels.labels("full").inc()
                    continue
                if is_label:
                    outcome = project.outcome(record[field])
                    if outcome is None:
                        metrics.labels.labels("undecodable").inc()
                        continue
                    match = join.add_label(record["event_id"], int(outcome), now)
                else:
                    match = join.add_prediction(
                        record["event_id"], record["model_name"], record["model_version"],
                        float(record["score"]), now,
                    )  # fmt: skip
                if match is None:
                    continue
                metrics.labels.labels("matched").inc()
                alert = watch.add(match, now)
                metrics.error_rate.labels(f"{match.model_name}:{match.model_version}").set(
                    watch.error_rate(match.model_name, match.model_version)
                )
                if alert is not None:
                    metrics.alerts.labels(alert["feature"], alert["detector"]).inc()
                    await alerts_topic.send(
                        key=alert["feature"].encode(), value=alert_codec.encode(alert)
                    )
            if taken and now - last_expiry >= expire_every_s:
                expired = join.expire(now)
                metrics.labels.labels("expired-prediction").inc(expired.predictions)
                metrics.labels.labels("unmatched-label").inc(expired.labels)
                last_expiry = now
            await changelogs_of(app).durable(app.producer)
            for event in taken:
                await stream.ack(event)

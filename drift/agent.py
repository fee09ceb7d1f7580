"""`streamscore drift agent`: the Faust app that merges window summaries and runs detectors.

Thin agents over plain code (drift/state.py, drift/schedule.py; the label agent in
drift/label_agent.py over drift/labels.py):

    [drift.summaries] ──► merge agent ──► tables: windows, versions, policies (changelogged)
                                      ──► closed windows ──► Monitor ──► [drift.alerts]
                                                             policy  ──► [retraining.requests]
                                      ──► schedule ticks ──► table: schedule ──► requests
    [labels] + [predictions] ──► label agent ──► table: joins ──► DDM per version ──► alerts

Bad input: an undecodable label, prediction or summary goes to the DLQ with its cause in the
headers, as a scoring worker's bad event does; a summary of a version without a reference is
counted (``streamscore_drift_summaries_merged_total{outcome="unknown-version"}``) and
skipped. Neither stops the agent.

Delivery: a taken batch is applied to the tables, every record it produced (changelog
writes, alerts, requests) is flushed to the broker, and only then are its input messages
acked, so a committed offset never runs ahead of the state it produced. A SIGKILL therefore
loses nothing; a summary handled again after a restart is a duplicate by its
``(producer, seq)`` and skipped, and an alert or request produced again has the same id.

A Faust table changes only while an agent handles a message, so the timer that finds quiet
versions sends a *tick* (key ``tick|name:version``) to the partition that version's
summaries use, and the merge agent closes its windows when the tick arrives, if the version
is still quiet then (summaries queued ahead of the tick would have refreshed it).

Run one agent per deployment: the policy of a model is one table entry, and two agents
would each keep their own.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, cast

import faust
from confluent_kafka.admin import AdminClient
from faust.worker import Worker

from drift.durable import changelogs_of
from drift.label_agent import label_agent
from drift.metrics import DriftMetrics
from drift.schedule import SCHEDULE_TICK, RetrainingSchedule
from drift.settings import DriftAgentSettings, status_key_of
from drift.state import Applied, Closed, DriftState
from drift.status import snapshot
from drift.summary import RepositoryReferences
from schemas.errors import DecodeError
from streams.client.errors import KAFKA_LOG
from streams.client.settings import KafkaConfig
from streams.topics import TopicSpec, ensure_topics
from streams.worker.engines.faust import faust_app
from streams.worker.messages import DeadLetter, InMessage

log = logging.getLogger(__name__)
TICK = b"tick|"


def run(settings: DriftAgentSettings, loglevel: str = "info") -> None:
    app = create_app(settings)
    Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False).execute_from_commandline()


def _partitions(settings: DriftAgentSettings, topic: str) -> int:
    admin = AdminClient(settings.kafka.librdkafka())
    meta = admin.list_topics(topic, timeout=30).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise SystemExit(f"topic {topic!r} does not exist: run `streamscore up` first")
    return len(meta.partitions)


def _table(app: faust.App, kafka: KafkaConfig, name: str, partitions: int) -> Any:
    """A table of JSON keys and values, changelogged to ``<app id>-<name>-changelog``.

    The changelog topic is created here, before the app starts, and waited for: Faust creates
    it as it starts and checks its partitions at once, and on a busy broker the check could
    run before the metadata showed the new topic; the merge agent then crashed for good
    (PartitionsMismatch: "has 0 partitions")."""
    topic = f"{app.conf.id}-{name}-changelog"
    ensure_topics(kafka.librdkafka(), [TopicSpec(topic, partitions, {"cleanup.policy": "compact"})])
    admin = AdminClient(kafka.librdkafka(logger=KAFKA_LOG))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta = admin.list_topics(timeout=10).topics.get(topic)
        if meta is not None and meta.error is None and len(meta.partitions) == partitions:
            break
        time.sleep(0.2)
    schema: Any = faust.Schema(key_serializer="json", value_serializer="json")
    return changelogs_of(app).watch(app.Table(name, partitions=partitions, schema=schema))


def create_app(settings: DriftAgentSettings, metrics: DriftMetrics | None = None) -> faust.App:
    metrics = metrics or DriftMetrics()
    topics, agent = settings.topics, settings.agent
    partitions = _partitions(settings, topics.drift_summaries)
    app = faust_app(
        agent.app_id,
        settings.kafka,
        topic_partitions=partitions,
        broker_commit_interval=0.5,
        broker_session_timeout=agent.session_timeout_s,
        broker_heartbeat_interval=agent.session_timeout_s / 5,
    )
    codec = settings.codec
    summary_codec = codec("window_summary", logical_types=False)
    alert_codec = codec("drift_alert", logical_types=False)
    request_codec = codec("retraining_request", logical_types=False)
    summaries = app.topic(topics.drift_summaries, key_type=bytes, value_type=bytes)
    alerts_topic = app.topic(topics.drift_alerts, key_type=bytes, value_type=bytes)
    requests_topic = app.topic(topics.retraining, key_type=bytes, value_type=bytes)

    dlq = app.topic(topics.dlq, key_type=bytes, value_type=bytes)

    async def dead_letter(msg: Any, exc: DecodeError) -> None:
        """The original bytes to the DLQ, the cause in its headers (as the worker does)."""
        source = InMessage(msg.key, msg.value, msg.topic, msg.partition, msg.offset)
        letter = DeadLetter(source, type(exc).__name__, str(exc.reason), exc.detail)
        log.warning("%s[%d]@%d dead-lettered: %s", msg.topic, msg.partition, msg.offset, exc)
        await dlq.send(key=msg.key, value=msg.value, headers=letter.headers())

    def table(name: str, n: int = partitions) -> Any:
        return _table(app, settings.kafka, name, n)

    detectors = settings.detectors
    metrics.threshold.labels("psi").set(detectors.psi_threshold)
    metrics.threshold.labels("ks").set(detectors.ks_min_statistic)
    metrics.threshold.labels("share").set(detectors.missing_share_threshold)
    state = DriftState(
        table("windows"), table("versions"), table("policies"),
        RepositoryReferences(settings.model_repository, settings.use_case().layout.columns),
        settings.window, settings.detectors, settings.policy,
    )  # fmt: skip

    every_s = settings.policy.every_s
    schedule = RetrainingSchedule(table("schedule") if every_s else {}, every_s)

    async def publish(closed: list[Closed], now: float) -> None:
        for result in closed:
            label = f"{result.window.model_name}:{result.window.model_version}"
            metrics.windows_closed.labels(label).inc()
            metrics.window_events.labels(label).inc(result.window.events)
            for (column, detector), value in result.statistics.items():
                metrics.statistic.labels(label, column, detector).set(value)
            for finding in result.findings:
                metrics.alerts.labels(finding.feature, finding.detector).inc()
            for alert in result.alerts:
                await alerts_topic.send(
                    key=alert["feature"].encode(), value=alert_codec.encode(alert)
                )
            if result.request is not None:
                schedule.requested(result.request["model_name"], now)
                await send_request(result.request)

    async def send_request(request: dict[str, Any]) -> None:
        metrics.requests.labels(request["model_name"]).inc()
        log.warning("retraining requested: %s", request["reason"])
        await requests_topic.send(
            key=request["model_name"].encode(), value=request_codec.encode(request)
        )

    @app.agent(summaries, name="merge")
    async def merge(stream: faust.StreamT[bytes]) -> None:
        s = cast(Any, stream)
        async for taken in s.noack_take(500, within=0.2):
            now = time.time()
            touched: set[str] = set()
            ticked: set[str] = set()
            scheduled: set[str] = set()
            for event in taken:
                s._set_current_event(event)  # table writes go to this message's partition
                msg = event.message
                key = bytes(msg.key or b"")
                if key.startswith(TICK):
                    ticked.add(key[len(TICK) :].decode())
                    continue
                if key.startswith(SCHEDULE_TICK):
                    scheduled.add(key[len(SCHEDULE_TICK) :].decode())
                    continue
                try:
                    record = summary_codec.decode(msg.value)
                except DecodeError as exc:
                    metrics.summaries.labels("undecodable").inc()
                    await dead_letter(msg, exc)
                    continue
                outcome = state.apply(record, msg.partition, now)
                metrics.summaries.labels(str(outcome)).inc()
                if outcome is Applied.LATE:
                    log.warning("late summary, dropped: %s", state.describe_late(record))
                if outcome is Applied.APPLIED or outcome is Applied.LATE:
                    touched.add(f"{record['model_name']}:{record['model_version']}")
            for vkey in sorted(touched | ticked):
                quiet = vkey in ticked and state.is_quiet(vkey, now)
                if quiet:
                    log.info("%s quiet for %.0f s: closing its open windows", vkey,
                             now - state.versions[vkey]["seen_at"])  # fmt: skip
                schedule.watch(vkey.rsplit(":", 1)[0], state.versions[vkey]["partition"], now)
                await publish(state.close_due(vkey, now, everything=quiet), now)
            for name in sorted(scheduled):
                request = schedule.fire(name, now)
                if request is not None:
                    await send_request(request)
            await changelogs_of(app).durable(app.producer)  # changelogs, alerts: before acks
            for event in taken:
                await stream.ack(event)

    @app.timer(1.0)
    async def tick_quiet_versions() -> None:
        for vkey, partition in state.quiet_versions(time.time()):
            await summaries.send(key=TICK + vkey.encode(), value=b"", partition=partition)
        for name, partition in schedule.due(time.time()):
            await summaries.send(key=SCHEDULE_TICK + name.encode(), value=b"", partition=partition)

    store = settings.redis.async_client()
    status_key = status_key_of(settings.use_case().name)

    @app.timer(agent.status_every_s)
    async def write_status() -> None:
        try:
            await store.set(status_key, json.dumps(snapshot(state, settings.detectors)))
        except Exception as exc:  # status is a convenience; the agent goes on without it
            log.info("status not written: %s", exc)

    # The error watch judges a binary call (drift/labels.py): another task's comes per task.
    if agent.label_join and settings.use_case().task == "binary":
        label_agent(app, settings, metrics, alerts_topic, alert_codec, dead_letter)

    @app.task
    async def serve_metrics() -> None:
        if agent.metrics_port:
            metrics.serve(agent.metrics_port)

    return app

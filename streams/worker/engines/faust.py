"""`--engine faust`: the Faust app, its topics and thin agents over the batch runner.

One scoring agent takes micro-batches from the events topic with ``noack_take`` (size N or
T seconds, whichever first) and acks them itself, after the outputs are acknowledged: Faust's
``take`` would ack a batch even when the code handling it failed. The work is in
streams/worker/batch_runner.py and below; an agent only takes and hands over.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import shutil
import ssl
import tempfile
from typing import Any, cast

import faust
from faust.worker import Worker

from streams.backoff import Stopped
from streams.client.settings import KafkaConfig
from streams.worker.errors import GroupConflict
from streams.worker.group import JoinRefusedWatch, conflict_line
from streams.worker.messages import InMessage
from streams.worker.metrics import Metrics
from streams.worker.runtime import Runtime, build_runtime
from streams.worker.settings import WorkerSettings

log = logging.getLogger(__name__)


def run(settings: WorkerSettings, loglevel: str = "info") -> None:
    app = create_app(settings)
    worker = Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    with JoinRefusedWatch(settings.app_id) as watch:
        try:
            worker.execute_from_commandline()
        except SystemExit:
            if watch.refused:
                raise GroupConflict(conflict_line(settings.app_id, "faust")) from None
            raise


def faust_app(app_id: str, kafka: KafkaConfig, **options: Any) -> faust.App:
    """A Faust app of StreamScore's: raw bytes in and out (the codecs are ours), in-memory
    tables, acks from every replica, no web server; ``options`` on top."""
    # Faust wants a data folder even with in-memory tables; it is removed at exit.
    datadir = tempfile.mkdtemp(prefix=f"{app_id}-")
    atexit.register(shutil.rmtree, datadir, ignore_errors=True)
    return faust.App(
        app_id,
        broker=[f"kafka://{host}" for host in kafka.bootstrap.split(",")],
        broker_credentials=faust_credentials(kafka),
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        store="memory://",
        datadir=datadir,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Events taken but not yet handled are never acked; Faust's default would wait for
        # them forever at shutdown. Unacked means redelivered: stop without waiting.
        stream_wait_empty=False,
        **options,
    )


def create_app(settings: WorkerSettings, metrics: Metrics | None = None) -> faust.App:
    metrics = metrics or Metrics()
    app = faust_app(
        settings.app_id,
        settings.kafka,
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 5,
        stream_buffer_maxsize=max(4 * settings.batch.size, 4096),
        producer_linger_ms=2,
        topic_allow_declare=False,  # `streamscore up` (or the operator) creates topics
        # Every worker runs every timer; nothing waits on a leader, so none is elected (and
        # no `<app id>-__assignor-__leader` topic is subscribed to, nor missed in the log).
        topic_disable_leader=True,
    )
    events = app.topic(settings.topics.events, key_type=bytes, value_type=bytes)
    lock = asyncio.Lock()
    holder: dict[str, Runtime] = {}

    async def runtime() -> Runtime:
        """Built on first use, inside the running loop; waits (back-pressure) until the
        model server answers, since nothing can be scored before that."""
        async with lock:
            if "rt" not in holder:
                holder["rt"] = await build_runtime(settings, metrics, lambda: bool(app.should_stop))
            return holder["rt"]

    @app.agent(events, name="score")
    async def score(stream: faust.StreamT[bytes]) -> None:
        # noack_take yields events (not values) and leaves acking to us.
        batch = settings.batch
        batches = cast(Any, stream).noack_take(batch.size, within=batch.timeout_s)
        async for taken in batches:
            try:
                rt = await runtime()
            except Stopped:
                return  # nothing acked: the next owner scores these events

            async def acknowledge(events: list[Any] = taken) -> None:
                for event in events:
                    await stream.ack(event)

            await rt.runner.submit([_in_message(event) for event in taken], acknowledge)

    updates = app.topic(settings.topics.features, key_type=bytes, value_type=bytes)

    @app.agent(updates, name="features")
    async def update_features(stream: faust.StreamT[bytes]) -> None:
        async for taken in cast(Any, stream).noack_take(1000, within=0.1):
            try:
                rt = await runtime()
                await rt.features.handle([_in_update(event) for event in taken])
            except Stopped:
                return  # not applied, so not acked: redelivered
            for event in taken:
                await stream.ack(event)

    async def finish_publishing(_: Any, **__: Any) -> None:
        # Faust commits acked offsets once more as its consumer stops, after this signal:
        # every batch already published must be acked by then, or a restart publishes it
        # again. (Batches scored from now on are not published: BatchRunner.submit.)
        if "rt" in holder:
            await holder["rt"].runner.drain()

    app.on_before_shutdown.connect(cast(Any, finish_publishing))

    @app.timer(settings.routing.refresh_s)
    async def refresh_routing() -> None:
        if "rt" in holder:
            await holder["rt"].routing.refresh()

    @app.timer(settings.drift.flush_s)
    async def publish_drift_summaries() -> None:
        if "rt" in holder and holder["rt"].summaries is not None:
            await holder["rt"].summaries.flush()

    @app.timer(5.0)
    async def report_lag() -> None:
        # From the committed offset, not the fetch position: Faust fetches ahead into its
        # buffer, so only the committed offset shows events held back (never acked).
        consumer = app.consumer
        committed = getattr(consumer, "_committed_offset", {})
        for tp in consumer.assignment():
            done = committed.get(tp)
            if done is None:
                done = await consumer.position(tp)
            if done is not None:
                lag = max(consumer.highwater(tp) - done, 0)
                metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)

    @app.task
    async def serve_metrics() -> None:
        if settings.metrics_port:
            metrics.serve(settings.metrics_port)
            log.info("metrics on :%d/metrics", settings.metrics_port)

    return app


def _in_message(event: Any) -> InMessage:
    msg = event.message
    return InMessage(msg.key, msg.value, msg.topic, msg.partition, msg.offset)


def _in_update(event: Any) -> InMessage:
    """A features record, with its Kafka timestamp (its update time unless it says one)."""
    msg = event.message
    stamp = int((msg.timestamp or 0) * 1000)
    return InMessage(msg.key, msg.value, msg.topic, msg.partition, msg.offset, stamp)


def faust_credentials(kafka: KafkaConfig) -> Any:
    protocol = kafka.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        cafile = str(kafka.ssl_ca_location) if kafka.ssl_ca_location else None
        context = ssl.create_default_context(cafile=cafile)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=kafka.sasl_username,
        password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
        mechanism=kafka.sasl_mechanism,
        ssl_context=context,
    )

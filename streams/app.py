"""The Faust app: its topics and thin agents. The work is in streams/worker.py and below.

One scoring agent takes micro-batches from the events topic with ``noack_take`` (size N or
T seconds, whichever first) and acks them itself, after the outputs are acknowledged: Faust's
``take`` would ack a batch even when the code handling it failed.
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

from streams.metrics import Metrics
from streams.pipeline import InMessage
from streams.runtime import Runtime, build_runtime
from streams.settings import ClientConfig
from streams.worker_settings import WorkerConfig

log = logging.getLogger(__name__)


def create_app(config: WorkerConfig, metrics: Metrics | None = None) -> faust.App:
    client = config.client
    metrics = metrics or Metrics()
    # Faust wants a data folder even with in-memory tables; it is removed at exit.
    datadir = tempfile.mkdtemp(prefix="streamscore-faust-")
    atexit.register(shutil.rmtree, datadir, ignore_errors=True)
    app = faust.App(
        config.app_id,
        broker=[f"kafka://{host}" for host in client.kafka_bootstrap.split(",")],
        broker_credentials=_credentials(client),
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        store="memory://",
        datadir=datadir,
        broker_commit_interval=config.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(4 * config.batch_size, 4096),
        producer_acks=-1,
        producer_linger_ms=2,
        topic_allow_declare=False,  # `streamscore up` (or the operator) creates topics
        # Events taken but not yet scored are never acked; Faust's default would wait for
        # them forever at shutdown. Unacked means redelivered: stop without waiting.
        stream_wait_empty=False,
    )
    events = app.topic(client.topics.events, key_type=bytes, value_type=bytes)
    lock = asyncio.Lock()
    holder: dict[str, Runtime] = {}

    async def runtime() -> Runtime:
        """Built on first use, inside the running loop; waits (back-pressure) until the
        model server answers, since nothing can be scored before that."""
        async with lock:
            if "rt" not in holder:
                holder["rt"] = await build_runtime(config, metrics, lambda: bool(app.should_stop))
            return holder["rt"]

    @app.agent(events, name="score")
    async def score(stream: faust.StreamT[bytes]) -> None:
        # noack_take yields events (not values) and leaves acking to us.
        batches = cast(Any, stream).noack_take(config.batch_size, within=config.batch_timeout_s)
        async for batch in batches:
            rt = await runtime()

            async def acknowledge(events: list[Any] = batch) -> None:
                for event in events:
                    await stream.ack(event)

            await rt.worker.submit([_in_message(event) for event in batch], acknowledge)

    updates = app.topic(client.topics.features, key_type=bytes, value_type=bytes)

    @app.agent(updates, name="features")
    async def update_features(stream: faust.StreamT[bytes]) -> None:
        async for batch in cast(Any, stream).noack_take(1000, within=0.1):
            rt = await runtime()
            await rt.features.handle([_in_message(event) for event in batch])
            for event in batch:
                await stream.ack(event)

    @app.timer(config.routing_refresh_s)
    async def refresh_routing() -> None:
        if "rt" in holder:
            await holder["rt"].pool.refresh()

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
        if config.metrics_port:
            metrics.serve(config.metrics_port)
            log.info("metrics on :%d/metrics", config.metrics_port)

    return app


def _in_message(event: Any) -> InMessage:
    msg = event.message
    return InMessage(msg.key, msg.value, msg.topic, msg.partition, msg.offset)


def _credentials(client: ClientConfig) -> Any:
    protocol = client.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        cafile = str(client.ssl_ca_location) if client.ssl_ca_location else None
        context = ssl.create_default_context(cafile=cafile)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=client.sasl_username,
        password=client.sasl_password.get_secret_value() if client.sasl_password else None,
        mechanism=client.sasl_mechanism,
        ssl_context=context,
    )

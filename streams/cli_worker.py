"""`streamscore worker`: run a scoring worker. Two on one machine share the partitions."""

from __future__ import annotations

from typing import Annotated

import typer


def worker(
    batch_size: Annotated[
        int | None, typer.Option(help="Micro-batch size N (env STREAMSCORE_BATCH_SIZE).")
    ] = None,
    batch_timeout_ms: Annotated[
        float | None,
        typer.Option(help="Micro-batch time T in ms (env STREAMSCORE_BATCH_TIMEOUT_MS)."),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Port of /metrics; 0 = off (env STREAMSCORE_METRICS_PORT).")
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap (env STREAMSCORE_KAFKA_BOOTSTRAP).")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="faust or librdkafka (env STREAMSCORE_ENGINE).")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info",
) -> None:
    """Score events from Kafka: Redis features, Triton primary and shadow models."""
    from faust.worker import Worker

    from streams.app import create_app
    from streams.worker_settings import WorkerSettings

    overrides = {
        "batch_size": batch_size,
        "batch_timeout_ms": batch_timeout_ms,
        "metrics_port": metrics_port,
        "kafka_bootstrap": bootstrap,
        "engine": engine,
    }
    settings = WorkerSettings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    config = settings.to_worker_config()
    if config.engine == "librdkafka":
        from streams.direct_engine import run_direct

        run_direct(config, loglevel)
        return
    app = create_app(config)
    Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False).execute_from_commandline()


def register(app: typer.Typer) -> None:
    app.command()(worker)

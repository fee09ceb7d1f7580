"""`streamscore worker`: run a scoring worker. Two on one machine share the partitions."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from streams.cli.common import Bootstrap, given, settings_error


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
    bootstrap: Bootstrap = None,
    engine: Annotated[
        str | None, typer.Option(help="faust or librdkafka (env STREAMSCORE_ENGINE).")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info",
) -> None:
    """Score events from Kafka: Redis features, Triton primary and shadow models."""
    from streams.worker import engines
    from streams.worker.settings import WorkerSettings

    options = given(
        engine=engine,
        metrics_port=metrics_port,
        batch={"size": batch_size, "timeout_ms": batch_timeout_ms},
        kafka={"bootstrap": bootstrap},
    )
    try:
        settings = WorkerSettings(**options)
    except ValidationError as exc:
        raise settings_error(exc) from None
    engines.run(settings, loglevel)


def register(cli: typer.Typer) -> None:
    cli.command()(worker)

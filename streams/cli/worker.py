"""`streamscore worker`: run a scoring worker. Two on one machine share the partitions."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from streams.cli.common import Bootstrap, fail, given, settings_error


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
    from streams.worker.errors import FatalWorkerError
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
    from streams.cli.logins import LoginRefused, check_logins

    try:
        check_logins(settings)  # a refused login: one line, exit 1, not a wait for ever
    except LoginRefused as exc:
        raise fail(exc) from None
    try:
        engines.run(settings, loglevel)
    except FatalWorkerError as exc:  # one line, non-zero: a supervisor sees why it stopped
        raise fail(exc) from None


def register(cli: typer.Typer) -> None:
    cli.command()(worker)

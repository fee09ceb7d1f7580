"""`streamscore up | down | status`: the local Kafka, Redis and Triton.

The three commands take the same options (where the services listen and keep their files);
they are declared once, in :func:`_options`, and every command gets that signature.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from infra import services
from infra.errors import InfraError
from infra.settings import ServicesSettings
from streams.cli.common import fail, given, out
from streams.client import ClientSettings
from streams.routing import ModelRef, Routing
from streams.routing import state as routing_state
from streams.topics import ensure_topics

if TYPE_CHECKING:
    from streams.worker.settings import WorkerSettings


def _options(
    host: Annotated[str | None, typer.Option(help="Bind address (env STREAMSCORE_HOST).")] = None,
    kafka_port: Annotated[
        int | None, typer.Option(help="Kafka port (env STREAMSCORE_KAFKA_PORT).")
    ] = None,
    kafka_controller_port: Annotated[
        int | None,
        typer.Option(help="KRaft controller port (env STREAMSCORE_KAFKA_CONTROLLER_PORT)."),
    ] = None,
    redis_port: Annotated[
        int | None, typer.Option(help="Redis port (env STREAMSCORE_REDIS_PORT).")
    ] = None,
    triton_http_port: Annotated[
        int | None, typer.Option(help="Triton HTTP port (env STREAMSCORE_TRITON_HTTP_PORT).")
    ] = None,
    triton_grpc_port: Annotated[
        int | None, typer.Option(help="Triton gRPC port (env STREAMSCORE_TRITON_GRPC_PORT).")
    ] = None,
    triton_metrics_port: Annotated[
        int | None,
        typer.Option(help="Triton metrics port (env STREAMSCORE_TRITON_METRICS_PORT)."),
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Data, logs, pid files (env STREAMSCORE_STATE_DIR).")
    ] = None,
) -> None:
    """The options of every services command (Typer reads them from this signature)."""


def services_settings(**options: object) -> ServicesSettings:
    """Settings from the environment, then command-line options on top."""
    return ServicesSettings(**given(**options))


def _command(action: Callable[[ServicesSettings], None]) -> Callable[..., None]:
    @functools.wraps(action)
    def command(**options: object) -> None:
        action(services_settings(**options))

    command.__signature__ = inspect.signature(_options, eval_str=True)  # type: ignore[attr-defined]
    return command


def up(config: ServicesSettings) -> None:
    """Install what is missing, put the project's first versions in the model repository,
    start Kafka, Redis and Triton, wait until all are healthy, create the topics, and store
    the primary the first time one is chosen."""
    from streams.cli.project import with_trainer
    from streams.retraining.serving import serving_config
    from streams.simulation.starter import preparer
    from streams.worker.settings import WorkerSettings

    t0 = time.monotonic()
    with_trainer()  # trains starters: a trainer that does not import stops `up` first

    def report(r: services.StartReport) -> None:
        word = "started" if r.started else "already running"
        out.print(f"{r.name:<7} {word} ({r.seconds:.1f}s)")

    client = ClientSettings(**config.addresses(ClientSettings))
    worker = WorkerSettings(**config.addresses(WorkerSettings))
    project = client.use_case()
    try:
        services.up(config, on_started=report,
                    prepare=preparer(project, serving_config(worker.triton)))  # fmt: skip
        created = ensure_topics(client.kafka.librdkafka(), client.topics.specs())
        routing = store_primary(worker)
    except InfraError as exc:
        raise fail(exc) from None
    if created:
        out.print(f"topics  created: {', '.join(created)}")
    if routing is not None:
        out.print(f"routing {project.name}: {routing.describe()}")
    out.print(f"all healthy in {time.monotonic() - t0:.1f}s")
    show_status(config)


def store_primary(worker: WorkerSettings) -> Routing | None:
    """The project's routing: stored as the newest version of its first model when none is
    stored yet (the first time a primary is chosen), else as it is. None without a version."""
    from inference.repository import ModelRepository

    project = worker.use_case()
    name = project.default_model.name
    versions = ModelRepository(worker.model_repository).versions(name)
    if not versions:
        return None
    store = worker.redis.client()
    try:
        chosen = Routing(ModelRef(name, str(versions[-1])))
        return routing_state.store_first_sync(store, routing_state.routing_key(project.name),
                                              chosen)  # fmt: skip
    finally:
        store.close()


def down(config: ServicesSettings) -> None:
    """Stop the services started by `up` and leave no process behind (a killed demo's
    workers included)."""
    from streams.demo.fleet import stop_leftovers

    for name in stop_leftovers(config):
        out.print(f"demo {name} stopped")
    for name, was_running in services.down(config).items():
        out.print(f"{name:<7} {'stopped' if was_running else 'not running'}")


def status(config: ServicesSettings) -> None:
    """Health of each service; exits 0 only when all three are healthy."""
    if not show_status(config):
        raise typer.Exit(1)


def show_status(config: ServicesSettings) -> bool:
    table = Table("service", "address", "healthy", "version", "detail")
    healths = services.status(config)
    for h in healths:
        mark = "[green]yes[/green]" if h.healthy else "[red]no[/red]"
        table.add_row(h.name, h.address, mark, h.version, h.detail)
    out.print(table)
    return all(h.healthy for h in healths)


def register(cli: typer.Typer) -> None:
    for action in (up, down, status):
        cli.command()(_command(action))

"""`streamscore up | down | status`: the local Kafka, Redis and Triton."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra import services
from infra.errors import InfraError
from infra.settings import ServicesConfig, ServicesSettings
from streams.topics import TopicNames, ensure_topics

console = Console()
err = Console(stderr=True)

Host = Annotated[str | None, typer.Option(help="Bind address (env STREAMSCORE_HOST).")]
KafkaPort = Annotated[int | None, typer.Option(help="Kafka port (env STREAMSCORE_KAFKA_PORT).")]
ControllerPort = Annotated[
    int | None, typer.Option(help="KRaft controller port (env STREAMSCORE_KAFKA_CONTROLLER_PORT).")
]
RedisPort = Annotated[int | None, typer.Option(help="Redis port (env STREAMSCORE_REDIS_PORT).")]
HttpPort = Annotated[
    int | None, typer.Option(help="Triton HTTP port (env STREAMSCORE_TRITON_HTTP_PORT).")
]
GrpcPort = Annotated[
    int | None, typer.Option(help="Triton gRPC port (env STREAMSCORE_TRITON_GRPC_PORT).")
]
MetricsPort = Annotated[
    int | None, typer.Option(help="Triton metrics port (env STREAMSCORE_TRITON_METRICS_PORT).")
]
StateDir = Annotated[
    Path | None, typer.Option(help="Data, logs, pid files (env STREAMSCORE_STATE_DIR).")
]


def services_config(**overrides: object) -> ServicesConfig:
    """Settings from the environment, then command-line options on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return ServicesSettings(**given).to_config()  # type: ignore[arg-type]


def fail(exc: InfraError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(1)


def up(
    host: Host = None,
    kafka_port: KafkaPort = None,
    kafka_controller_port: ControllerPort = None,
    redis_port: RedisPort = None,
    triton_http_port: HttpPort = None,
    triton_grpc_port: GrpcPort = None,
    triton_metrics_port: MetricsPort = None,
    state_dir: StateDir = None,
) -> None:
    """Install what is missing, start Kafka, Redis and Triton, and wait until all are healthy."""
    config = services_config(**locals())
    t0 = time.monotonic()

    def report(r: services.StartReport) -> None:
        word = "started" if r.started else "already running"
        console.print(f"{r.name:<7} {word} ({r.seconds:.1f}s)")

    try:
        services.up(config, on_started=report)
        created = ensure_topics(config.kafka_bootstrap, TopicNames().specs())
    except InfraError as exc:
        raise fail(exc) from None
    if created:
        console.print(f"topics  created: {', '.join(created)}")
    console.print(f"all healthy in {time.monotonic() - t0:.1f}s")
    show_status(config)


def down(
    host: Host = None,
    kafka_port: KafkaPort = None,
    kafka_controller_port: ControllerPort = None,
    redis_port: RedisPort = None,
    triton_http_port: HttpPort = None,
    triton_grpc_port: GrpcPort = None,
    triton_metrics_port: MetricsPort = None,
    state_dir: StateDir = None,
) -> None:
    """Stop the services started by `up` and leave no process behind."""
    config = services_config(**locals())
    for name, was_running in services.down(config).items():
        console.print(f"{name:<7} {'stopped' if was_running else 'not running'}")


def status(
    host: Host = None,
    kafka_port: KafkaPort = None,
    kafka_controller_port: ControllerPort = None,
    redis_port: RedisPort = None,
    triton_http_port: HttpPort = None,
    triton_grpc_port: GrpcPort = None,
    triton_metrics_port: MetricsPort = None,
    state_dir: StateDir = None,
) -> None:
    """Health of each service; exits 0 only when all three are healthy."""
    if not show_status(services_config(**locals())):
        raise typer.Exit(1)


def show_status(config: ServicesConfig) -> bool:
    table = Table("service", "address", "healthy", "version", "detail")
    healths = services.status(config)
    for h in healths:
        mark = "[green]yes[/green]" if h.healthy else "[red]no[/red]"
        table.add_row(h.name, h.address, mark, h.version, h.detail)
    console.print(table)
    return all(h.healthy for h in healths)


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(status)

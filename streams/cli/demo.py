"""`streamscore demo`: the live demo behind `make run` (streams/simulation/demo.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.cli.common import fail


def demo(
    rate: Annotated[float, typer.Option(help="Events per second.", min=1)] = 2000.0,
    seconds: Annotated[float, typer.Option(help="How long to stream.", min=1)] = 20.0,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 0,
    engine: Annotated[str, typer.Option(help="Worker engine: faust or librdkafka.")] = "faust",
) -> None:
    """Live demo on the services of `streamscore up`: stream, score, shadow, dead-letter."""
    from streams.cli.services import services_settings, show_status
    from streams.client import ClientSettings
    from streams.simulation.demo import DemoError, run_demo

    config = services_settings()
    if not show_status(config):
        raise fail("services are not healthy: run `streamscore up` first")
    client = ClientSettings(**config.addresses(ClientSettings))
    try:
        status = run_demo(config, client, rate, seconds, seed, engine)
    except DemoError as exc:
        raise fail(exc) from None
    raise typer.Exit(status)


def register(cli: typer.Typer) -> None:
    cli.command()(demo)

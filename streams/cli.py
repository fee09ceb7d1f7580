"""The `streamscore` command: one Typer app; each group of commands lives in its own module."""

from __future__ import annotations

import typer

from streams import cli_services

app = typer.Typer(
    name="streamscore",
    help="Real-time inference on an event stream: Kafka in, Redis features, Triton models.",
    no_args_is_help=True,
    add_completion=False,
)
cli_services.register(app)

if __name__ == "__main__":
    app()

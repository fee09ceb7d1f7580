"""The `streamscore` command: one Typer app; each group of commands lives in its own module."""

from __future__ import annotations

import typer

from streams import cli_features, cli_io, cli_models, cli_services, cli_worker, demo

app = typer.Typer(
    name="streamscore",
    help="Real-time inference on an event stream: Kafka in, Redis features, Triton models.",
    no_args_is_help=True,
    add_completion=False,
)
cli_services.register(app)
cli_worker.register(app)
cli_models.register(app)
cli_features.register(app)
cli_io.register(app)
demo.register(app)

if __name__ == "__main__":
    app()

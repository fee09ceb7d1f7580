"""What every command shares: how an error is printed, and the options that repeat.

Exit codes: 0 done; 1 a failure the message explains (bad input, nothing sent; a service
unreachable; records not delivered); 2 bad options (Typer's own).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

Bootstrap = Annotated[
    str | None,
    typer.Option(help="Kafka bootstrap servers (env STREAMSCORE_KAFKA_BOOTSTRAP)."),
]
RedisUrl = Annotated[str | None, typer.Option(help="Redis URL (env STREAMSCORE_REDIS_URL).")]
TritonUrl = Annotated[
    str | None, typer.Option(help="Triton gRPC address (env STREAMSCORE_TRITON_GRPC_URL).")
]


def error(message: object) -> None:
    """One line on stderr: ``error: <message>``."""
    err.print(f"error: {message}", markup=False, style="red")


def fail(message: object) -> typer.Exit:
    """Print ``message`` as an error; the caller raises what this returns (exit status 1)."""
    error(message)
    return typer.Exit(1)


def settings_error(exc: ValidationError) -> typer.BadParameter:
    """A setting from the environment or an option that does not validate (exit status 2)."""
    problems = "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
    )
    return typer.BadParameter(problems)


def given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not None), sections as nested dicts, for a settings class:
    ``given(engine=None, batch={"size": 8})`` is ``{"batch": {"size": 8}}``."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, dict):
            value = given(**value)
        if value is not None and value != {}:
            out[key] = value
    return out

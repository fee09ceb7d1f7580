"""`streamscore models guard`: watch live quality per model and arm, roll a bad canary back.

The guard (streams/guard/) joins labels with the predictions of every model and role, exports
live quality gauges on its ``/metrics``, and ends a running canary by itself when its error
rate, its latency or a drift alert says so, publishing why on `models.events`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from streams.cli.common import Bootstrap, RedisUrl, fail, given, settings_error


def register_guard(models_cli: typer.Typer) -> None:
    @models_cli.command()
    def guard(
        bootstrap: Bootstrap = None,
        redis_url: RedisUrl = None,
        metrics_port: Annotated[
            int | None,
            typer.Option(help="Port of /metrics; 0 = off (env STREAMSCORE_GUARD_METRICS_PORT)."),
        ] = None,
        loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info",
    ) -> None:
        """Watch live quality and guard the canary until SIGTERM or Ctrl-C."""
        from infra.errors import StreamScoreError
        from infra.process import basic_logging
        from streams.guard import process
        from streams.guard.settings import GuardSettings

        try:
            options = given(
                kafka={"bootstrap": bootstrap},
                redis={"url": redis_url},
                guard={"metrics_port": metrics_port},
            )
            settings = GuardSettings(**options)
        except ValidationError as exc:
            raise settings_error(exc) from None
        basic_logging(loglevel)
        try:
            process.run(settings)
        except StreamScoreError as exc:  # at start: a topic missing, Kafka unreachable
            raise fail(exc) from None


__all__ = ["register_guard"]

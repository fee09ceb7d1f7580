"""`streamscore retrain request | worker`: ask for a new model version, and answer the asks.

`request` sends one RetrainingRequest (schemas/retraining_request.avsc) to
`retraining.requests`; `worker` runs the retraining worker (streams/retraining/), which
publishes every outcome on `retraining.results` (`streamscore consume retraining.results`
shows them).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from streams.cli.common import Bootstrap, fail, given, out, settings_error

retrain_cli = typer.Typer(help="Retrain a model from the topics, gated against the primary.")


@retrain_cli.command()
def request(
    model: Annotated[str, typer.Option(help="Model to retrain (its name in the repository).")],
    reason: Annotated[str, typer.Option(help="Why, in words.")],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Start of the training range by event time, ISO-8601 with an offset "
            "(2024-05-01T12:00:00Z); default: the worker's lookback before --to.",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(help="End of the training range by event time, ISO-8601; default: now."),
    ] = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Ask the retraining worker for a new version of MODEL; prints the request id."""
    from schemas.records import RetrainingRequest
    from streams.cli.records import client_settings
    from streams.client import ClientError, RecordProducer, check_topic

    try:
        record = RetrainingRequest.model_validate(
            {
                "request_id": str(uuid.uuid4()),
                "model_name": model,
                "reason": reason,
                "requested_by": os.environ.get("USER") or "operator",
                "requested_at": datetime.now(UTC),
                "from_time": from_,
                "to_time": to,
            }
        )
    except ValidationError as exc:
        raise settings_error(exc) from None
    config = client_settings(bootstrap)
    topic = config.topics.retraining
    try:
        check_topic(config, topic)
        with RecordProducer(config, topic, "retraining_request", "model_name") as producer:
            producer.send(record)
    except ClientError as exc:
        raise fail(exc) from None
    out.print(record.request_id)


@retrain_cli.command()
def worker(
    bootstrap: Bootstrap = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Port of /metrics; 0 = off (env STREAMSCORE_RETRAIN_METRICS_PORT)."),
    ] = None,
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info",
) -> None:
    """Consume retraining requests until SIGTERM or Ctrl-C; answer each one once."""
    from infra.errors import StreamScoreError
    from infra.process import basic_logging
    from streams.cli.project import with_trainer
    from streams.retraining import worker as retraining
    from streams.retraining.settings import RetrainingSettings

    with_trainer()  # a trainer that does not import: one line, exit 2, nothing started
    try:
        options = given(kafka={"bootstrap": bootstrap}, training={"metrics_port": metrics_port})
        settings = RetrainingSettings(**options)
    except ValidationError as exc:
        raise settings_error(exc) from None
    basic_logging(loglevel)
    try:
        retraining.run(settings)
    except StreamScoreError as exc:  # at start: a topic missing, Kafka unreachable
        raise fail(exc) from None


def register(cli: typer.Typer) -> None:
    cli.add_typer(retrain_cli, name="retrain")

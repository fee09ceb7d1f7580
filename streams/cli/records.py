"""`streamscore produce | consume`: records in and out of the topics by hand.

Exit codes (streams/cli/common.py): 1 for bad input (nothing sent), failed deliveries,
undecodable values read, or Kafka unreachable. Messages go to stderr, records and summaries
to stdout.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.measure import Measurement
from rich.progress import Progress
from rich.table import Table

from schemas.codec import schema_names
from schemas.project import Project
from streams.cli.common import Bootstrap, err, error, fail, out, settings_error
from streams.client import (
    ClientError,
    ClientSettings,
    DeliveryFailure,
    RecordConsumer,
    RecordProducer,
    Undecodable,
    check_topic,
    schema_for_topic,
)
from streams.client.input_files import InputFormat, LoadedInput, format_of, load
from streams.client.settings import PROJECT_SCHEMAS, for_bootstrap

MAX_SHOWN = 20  # problems listed before "and N more": the rest is the same mistake
PROGRESS_FROM = 5000  # records; shorter inputs finish before a bar says anything
KEY_FIELDS = {"drift_alert": "feature", "retraining_request": "model_name"}  # else entity_id

Schema = Annotated[
    str | None,
    typer.Option(help="Schema of the values (event, label, ...); default: the topic's role's."),
]


def client_settings(bootstrap: str | None) -> ClientSettings:
    """Settings from the environment, `--bootstrap` on top."""
    try:
        return for_bootstrap(bootstrap)
    except ValidationError as exc:
        raise settings_error(exc) from None


def show_failures(failures: list[DeliveryFailure]) -> None:
    for failure in failures[:MAX_SHOWN]:
        error(f"not delivered: {failure}")
    if len(failures) > MAX_SHOWN:
        error(f"... and {len(failures) - MAX_SHOWN} more not delivered")


def produce(
    file: Annotated[str, typer.Argument(help="JSON Lines or CSV file; '-' reads stdin.")],
    topic: Annotated[str | None, typer.Option(help="Topic (default: events).")] = None,
    format: Annotated[
        Literal["jsonl", "csv"] | None,
        typer.Option("--format", help="Input format; by default from the file's suffix."),
    ] = None,
    schema: Schema = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Validate every record of FILE, then send them all; on any bad record send nothing."""
    config = client_settings(bootstrap)
    project = config.use_case()
    topic = topic or config.topics.events
    schema = schema or schema_for_topic(topic, config) or "event"
    known = [*PROJECT_SCHEMAS, *schema_names()]
    if schema not in known:
        raise typer.BadParameter(f"no schema {schema!r}: one of {', '.join(known)}")
    try:
        fmt: InputFormat = format_of(Path(file), format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        loaded = _read_input(file, fmt, schema, project)
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    if loaded.problems:
        for problem in loaded.problems[:MAX_SHOWN]:
            error(problem)
        if len(loaded.problems) > MAX_SHOWN:
            error(f"... and {len(loaded.problems) - MAX_SHOWN} more problems")
        raise fail(f"nothing sent: {len(loaded.problems)} problem(s) in {file}")
    try:
        check_topic(config, topic)
        keys = {**KEY_FIELDS, "event": project.spec.events.entity,
                "entity_features": project.features.entity}  # fmt: skip
        producer = RecordProducer(config, topic, schema, keys.get(schema, "entity_id"),
                                  validate=False)  # fmt: skip
        began = time.perf_counter()
        _send_all(producer, loaded.records)
        failures = producer.flush()
    except ClientError as exc:
        raise fail(exc) from None
    seconds = time.perf_counter() - began
    show_failures(failures)
    sent = len(loaded.records) - len(failures)
    rate = sent / seconds if seconds > 0 else 0.0
    out.print(f"sent {sent}, failed {len(failures)}, {rate:,.0f} events/s, {seconds:.2f} s")
    if failures:
        raise typer.Exit(1)


def _read_input(file: str, fmt: InputFormat, schema: str, project: Project) -> LoadedInput:
    if file == "-":
        return load(sys.stdin, fmt, project, schema)  # stdin stays open: not ours to close
    with open(file, encoding="utf-8", newline="") as stream:
        return load(stream, fmt, project, schema)


def _send_all(producer: RecordProducer, records: list[dict[str, Any]]) -> None:
    if len(records) < PROGRESS_FROM or not sys.stderr.isatty():
        producer.send_many(records)
        return
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("sending", total=len(records))
        for start in range(0, len(records), 1000):
            producer.send_many(records[start : start + 1000])
            progress.update(task, advance=len(records[start : start + 1000]))


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")  # what timestamp-millis holds
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def consume(
    topic: Annotated[str, typer.Argument(help="Topic to read.")],
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record.")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after N records.", min=1)] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after S seconds without a record.", min=0.0)
    ] = None,
    until_end: Annotated[
        bool, typer.Option(help="Stop once every partition is read to its end.")
    ] = False,
    format: Annotated[
        Literal["jsonl", "table"], typer.Option("--format", help="One JSON object per line.")
    ] = "jsonl",
    dedup: Annotated[bool, typer.Option(help="Drop records whose event_id was seen.")] = False,
    group: Annotated[
        str | None, typer.Option(help="Consumer group that commits; default: none.")
    ] = None,
    schema: Schema = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Print the decoded records of TOPIC; undecodable values are reported on stderr."""
    consumer = RecordConsumer(
        client_settings(bootstrap),
        topic,
        schema=schema,
        from_beginning=from_beginning,
        group_id=group,
        limit=limit,
        timeout_s=timeout,
        until_end=until_end,
        dedup=dedup,
    )
    rows: list[dict[str, Any]] = []
    try:
        for item in _records(consumer):
            if format == "table":
                rows.append(item)
            else:
                sys.stdout.write(json.dumps(item, default=_json_default) + "\n")
    except ClientError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        pass  # Ctrl-C is how an endless read ends: show what was read
    finally:
        sys.stdout.flush()
    if format == "table":
        _print_table(rows)
    stats = consumer.stats
    if stats.duplicates:
        err.print(f"dropped {stats.duplicates} duplicate(s) by event_id")
    if stats.undecodable:
        raise fail(f"{stats.undecodable} value(s) could not be decoded")


def _records(consumer: RecordConsumer) -> Iterator[dict[str, Any]]:
    for item in consumer:
        if isinstance(item, Undecodable):
            error(f"undecodable {item}")
        else:
            yield item


def _print_table(rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0]) if rows else []
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold")  # wrap in the cell, never cut with "…"
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    if out.is_terminal:
        out.print(table)
    else:  # a file or a pipe has no width: give each row one line, however long
        needed = Measurement.get(out, out.options.update_width(10_000), table).maximum
        Console(width=needed, highlight=False).print(table)


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default)
    return "" if value is None else str(value)


def register(cli: typer.Typer) -> None:
    cli.command()(produce)
    cli.command()(consume)

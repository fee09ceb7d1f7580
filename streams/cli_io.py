"""`streamscore produce | simulate | consume`: records in and out of the topics by hand.

Exit codes: 0 done; 1 bad input (nothing sent), failed deliveries, undecodable values read,
or Kafka unreachable; 2 bad options. Messages go to stderr, records and summaries to stdout.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.measure import Measurement
from rich.progress import Progress
from rich.table import Table

from schemas.codec import schema_names
from streams import simulate as sim
from streams.input_files import InputFormat, LoadedInput, format_of, load
from streams.sdk import (
    ClientError,
    DeliveryFailure,
    EventProducer,
    LabelProducer,
    RecordConsumer,
    RecordProducer,
    Undecodable,
    check_topic,
    schema_for_topic,
)
from streams.settings import ClientConfig, ClientSettings

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

MAX_SHOWN = 20  # problems listed before "and N more": the rest is the same mistake
PROGRESS_FROM = 5000  # records; shorter inputs finish before a bar says anything
KEY_FIELDS = {"drift_alert": "feature", "retraining_request": "model_name"}  # else entity_id

Bootstrap = Annotated[
    str | None,
    typer.Option(help="Kafka bootstrap servers (env STREAMSCORE_KAFKA_BOOTSTRAP)."),
]
Schema = Annotated[
    str | None,
    typer.Option(help="Schema of the values (event, label, ...); default: the topic's role's."),
]


def client_config(bootstrap: str | None) -> ClientConfig:
    """Settings from the environment, `--bootstrap` on top."""
    try:
        settings = ClientSettings(kafka_bootstrap=bootstrap) if bootstrap else ClientSettings()
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    return settings.to_config()


def error(message: object) -> None:
    err.print(f"error: {message}", markup=False)


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
    config = client_config(bootstrap)
    topic = topic or config.topics.events
    schema = schema or schema_for_topic(topic, config) or "event"
    if schema not in schema_names():
        raise typer.BadParameter(f"no schema {schema!r}: one of {', '.join(schema_names())}")
    try:
        fmt: InputFormat = format_of(Path(file), format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        loaded = _read_input(file, fmt, schema)
    except (OSError, UnicodeDecodeError) as exc:
        error(f"cannot read {file}: {exc}")
        raise typer.Exit(1) from None
    if loaded.problems:
        for problem in loaded.problems[:MAX_SHOWN]:
            error(problem)
        if len(loaded.problems) > MAX_SHOWN:
            error(f"... and {len(loaded.problems) - MAX_SHOWN} more problems")
        error(f"nothing sent: {len(loaded.problems)} problem(s) in {file}")
        raise typer.Exit(1)
    try:
        check_topic(config, topic)
        producer = RecordProducer(
            config, topic, schema, KEY_FIELDS.get(schema, "entity_id"), validate=False
        )
        began = time.perf_counter()
        _send_all(producer, loaded.records)
        failures = producer.flush()
    except ClientError as exc:
        error(exc)
        raise typer.Exit(1) from None
    seconds = time.perf_counter() - began
    show_failures(failures)
    sent = len(loaded.records) - len(failures)
    rate = sent / seconds if seconds > 0 else 0.0
    out.print(f"sent {sent}, failed {len(failures)}, {rate:,.0f} events/s, {seconds:.2f} s")
    if failures:
        raise typer.Exit(1)


def _read_input(file: str, fmt: InputFormat, schema: str) -> LoadedInput:
    if file == "-":
        return load(sys.stdin, fmt, schema)  # stdin stays open: it is not ours to close
    with open(file, encoding="utf-8", newline="") as stream:
        return load(stream, fmt, schema)


def _send_all(producer: RecordProducer, records: list[dict[str, Any]]) -> None:
    if len(records) < PROGRESS_FROM or not sys.stderr.isatty():
        producer.send_many(records)
        return
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("sending", total=len(records))
        for start in range(0, len(records), 1000):
            producer.send_many(records[start : start + 1000])
            progress.update(task, advance=len(records[start : start + 1000]))


def simulate(
    rate: Annotated[float, typer.Option(help="Events per second.", min=0.001)],
    count: Annotated[int | None, typer.Option(help="Stop after N events.", min=1)] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after D seconds.", min=0.001)] = None,
    topic: Annotated[str | None, typer.Option(help="Events topic (default: events).")] = None,
    labels_topic: Annotated[
        str | None, typer.Option(help="Labels topic (default: labels).")
    ] = None,
    labels: Annotated[bool, typer.Option(help="Send a label for every event.")] = True,
    label_delay: Annotated[
        int, typer.Option(help="Send event i's label after event i+N.", min=0)
    ] = 0,
    seed: Annotated[int, typer.Option(help="Same seed, same events (ids included).")] = 0,
    entities: Annotated[int, typer.Option(help="Size of the entity id pool.", min=1)] = 1000,
    start: Annotated[
        datetime | None,
        typer.Option(
            help="event_time of the first event, UTC (default: now).",
            formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f"],
        ),
    ] = None,
    drift_at: Annotated[int | None, typer.Option(help="Drift from event K on.", min=0)] = None,
    drift_kind: Annotated[
        Literal["abrupt", "gradual"], typer.Option(help="At once, or linearly over a window.")
    ] = "abrupt",
    drift_feature: Annotated[
        str | None, typer.Option(help=f"Feature that drifts: {', '.join(sim.DRIFTS)}.")
    ] = None,
    drift_window: Annotated[
        int, typer.Option(help="Events over which gradual drift ramps up.", min=1)
    ] = 1000,
    drift_magnitude: Annotated[float, typer.Option(help="Scales the shift.", min=0.0)] = 1.0,
    bootstrap: Bootstrap = None,
) -> None:
    """Send reproducible synthetic events (and their labels) at a steady rate."""
    if (count is None) == (duration is None):
        raise typer.BadParameter("give exactly one of --count and --duration")
    drift = None
    if drift_at is not None or drift_feature is not None:
        if drift_at is None or drift_feature is None:
            raise typer.BadParameter("drift needs both --drift-at and --drift-feature")
        try:
            drift = sim.Drift(drift_feature, drift_at, drift_kind, drift_window, drift_magnitude)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    config = client_config(bootstrap)
    topic = topic or config.topics.events
    labels_topic = labels_topic or config.topics.labels
    simulator = sim.EventSimulator(
        seed, entities, drift, (start or datetime.now(UTC)).replace(tzinfo=UTC), rate
    )
    try:
        for name in (topic, labels_topic) if labels else (topic,):
            check_topic(config, name)
        with (
            EventProducer(config, topic, validate=False) as events,
            LabelProducer(config, labels_topic, validate=False) as outcomes,
        ):
            try:
                report = sim.run(
                    simulator,
                    events.send,
                    outcomes.send if labels else None,
                    count=count,
                    duration_s=duration,
                    label_delay=label_delay,
                )
            except KeyboardInterrupt:
                error("interrupted: flushing what was sent")
                raise
            failures = events.flush() + outcomes.flush()
    except ClientError as exc:
        error(exc)
        raise typer.Exit(1) from None
    show_failures(failures)
    rate_seen = report.events / report.seconds if report.seconds > 0 else 0.0
    out.print(
        f"sent {report.events} events and {report.labels} labels, failed {len(failures)}, "
        f"{rate_seen:,.0f} events/s, {report.seconds:.2f} s"
    )
    if failures:
        raise typer.Exit(1)


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
        client_config(bootstrap),
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
        error(exc)
        raise typer.Exit(1) from None
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
        error(f"{stats.undecodable} value(s) could not be decoded")
        raise typer.Exit(1)


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


def register(app: typer.Typer) -> None:
    app.command()(produce)
    app.command()(simulate)
    app.command()(consume)

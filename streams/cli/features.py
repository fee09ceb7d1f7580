"""`streamscore features load | load-simulated | get`: the online feature store in Redis.

Bulk loads are validated whole first (like `produce`): a bad line is named with its field
and nothing is written. The streaming path is the `features` topic (records of
schemas/entity_features.avsc, key = entity_id), which every worker applies to Redis.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.table import Table

from schemas.features import ENTITY_FEATURE_NAMES, ENTITY_FEATURES
from streams.cli.common import RedisUrl, error, fail, given, out
from streams.client import input_files
from streams.features.store import load_sync, unpack_many

features_cli = typer.Typer(help="Load and inspect entity features in the online store.")


def _redis(url: str | None) -> redis.Redis:
    from streams.worker.settings import WorkerSettings

    return WorkerSettings(**given(redis={"url": url})).redis.client(timeout_s=10)


def _write(client: redis.Redis, rows: list[tuple[str, list[float]]]) -> None:
    t0 = time.perf_counter()
    try:
        written = load_sync(client, rows)
    except redis.RedisError as exc:
        raise fail(f"redis: {exc}") from None
    seconds = time.perf_counter() - t0
    out.print(
        f"loaded {written} entities in {seconds:.2f}s ({written / max(seconds, 1e-9):,.0f}/s)"
    )


@features_cli.command()
def load(
    file: Annotated[Path, typer.Argument(help="JSON Lines or CSV of entity features; - = stdin.")],
    fmt: Annotated[
        input_files.InputFormat | None, typer.Option("--format", help="jsonl or csv.")
    ] = None,
    redis_url: RedisUrl = None,
) -> None:
    """Validate every record, then write them all with pipelined MSETs."""
    try:
        fmt = input_files.format_of(file, fmt)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if str(file) == "-":
        loaded = input_files.load(sys.stdin, fmt, schema="entity_features")
    else:
        with open(file, encoding="utf-8", newline="") as stream:
            loaded = input_files.load(stream, fmt, schema="entity_features")
    if loaded.problems:
        for problem in loaded.problems[:20]:
            error(problem)
        if len(loaded.problems) > 20:
            error(f"... and {len(loaded.problems) - 20} more problems")
        raise fail(f"nothing loaded: {len(loaded.problems)} problem(s) in {file}")
    rows = [(r["entity_id"], [r[name] for name in ENTITY_FEATURE_NAMES]) for r in loaded.records]
    _write(_redis(redis_url), rows)


@features_cli.command("load-simulated")
def load_simulated(
    entities: Annotated[
        int, typer.Option(help="Entities, as `simulate --entities`.", min=1)
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed, as `simulate --seed`.")] = 0,
    redis_url: RedisUrl = None,
) -> None:
    """Load the entity features that `streamscore simulate` labels its events with."""
    from streams.simulation.simulator import entity_feature_rows

    rows = [
        (entity, [values[name] for name in ENTITY_FEATURE_NAMES])
        for entity, values in entity_feature_rows(seed, entities)
    ]
    _write(_redis(redis_url), rows)


@features_cli.command()
def get(
    entity_ids: Annotated[list[str], typer.Argument(help="Entity ids.")],
    redis_url: RedisUrl = None,
) -> None:
    """Show stored features (defaults marked) for some entities."""
    client = _redis(redis_url)
    rows = unpack_many(client.mget([f"features:{e}" for e in entity_ids]))  # type: ignore[arg-type]
    table = Table("entity", *(f.name for f in ENTITY_FEATURES), "stored")
    for entity, values, missing in zip(entity_ids, rows.values, rows.missing, strict=True):
        table.add_row(entity, *(f"{v:g}" for v in values), "no (defaults)" if missing else "yes")
    out.print(table)


def register(cli: typer.Typer) -> None:
    cli.add_typer(features_cli, name="features")

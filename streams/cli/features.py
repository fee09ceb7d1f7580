"""`streamscore features load | load-simulated | get`: the online feature store in Redis.

Bulk loads are validated whole first (like `produce`): a bad line is named with its field
and nothing is written. Records are the project's feature view (its entity key and
features; an absent feature takes its default; ``updated_at``, when given, is when the
values were computed, else now). The streaming path is the `features` topic, which every
worker applies to Redis.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.table import Table

from schemas.project import Project
from streams.cli.common import RedisUrl, error, fail, given, out
from streams.client import input_files
from streams.features.store import VectorLayout, load_sync
from streams.features.updates import updated_at_of, vector_of

features_cli = typer.Typer(help="Load and inspect entity features in the online store.")


def _redis(url: str | None) -> redis.Redis:
    from streams.worker.settings import WorkerSettings

    return WorkerSettings(**given(redis={"url": url})).redis.client(timeout_s=10)


def _project() -> Project:
    from schemas.project import load_project

    return load_project()


def _write(
    client: redis.Redis, layout: VectorLayout, rows: list[tuple[str, list[float], int]]
) -> None:
    t0 = time.perf_counter()
    try:
        written = 0
        for stamp in sorted({at for _, _, at in rows}):
            batch = [(e, v) for e, v, at in rows if at == stamp]
            written += load_sync(client, layout, batch, updated_at_ms=stamp)
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
    project = _project()
    try:
        fmt = input_files.format_of(file, fmt)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if str(file) == "-":
        loaded = input_files.load(sys.stdin, fmt, project, "entity_features")
    else:
        with open(file, encoding="utf-8", newline="") as stream:
            loaded = input_files.load(stream, fmt, project, "entity_features")
    if loaded.problems:
        for problem in loaded.problems[:20]:
            error(problem)
        if len(loaded.problems) > 20:
            error(f"... and {len(loaded.problems) - 20} more problems")
        raise fail(f"nothing loaded: {len(loaded.problems)} problem(s) in {file}")
    now = int(time.time() * 1000)
    entity = project.features.entity
    rows = [(r[entity], vector_of(project, r), updated_at_of(r, now)) for r in loaded.records]
    _write(_redis(redis_url), VectorLayout.of(project), rows)


@features_cli.command("load-simulated")
def load_simulated(
    entities: Annotated[
        int | None, typer.Option(help="Entities, as `simulate --entities`.", min=1)
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed, as `simulate --seed`.")] = 0,
    redis_url: RedisUrl = None,
) -> None:
    """Load the entity features that `streamscore simulate` labels its events with."""
    from streams.simulation.simulator import entity_feature_rows

    project = _project()
    sim = project.spec.simulation
    if sim is None:
        raise fail(f"project {project.name} has no simulation section: nothing to load")
    count = entities or sim.entities.count
    now = int(time.time() * 1000)
    rows = [
        (entity, vector_of(project, values), now)
        for entity, values in entity_feature_rows(project, seed, count)
    ]
    _write(_redis(redis_url), VectorLayout.of(project), rows)


@features_cli.command()
def get(
    entity_ids: Annotated[list[str], typer.Argument(help="Entity ids.")],
    redis_url: RedisUrl = None,
) -> None:
    """Show stored features (defaults marked), and each vector's age against the ttl."""
    project = _project()
    layout = VectorLayout.of(project)
    client = _redis(redis_url)
    raw = client.mget([layout.key(e) for e in entity_ids])
    now = int(time.time() * 1000)
    rows = layout.unpack_many(raw, now)  # type: ignore[arg-type]
    ages = layout.ages_ms(raw, now)  # type: ignore[arg-type]
    table = Table("entity", *project.feature_names, "age", "stored")
    for i, entity in enumerate(entity_ids):
        age = ages[i]
        state = "yes"
        if rows.missing[i]:
            state = "no (defaults)"
        elif rows.stale[i]:
            state = "stale (defaults)"
        shown = "unknown" if age is None and not rows.missing[i] else _age(age)
        table.add_row(entity, *(f"{v:g}" for v in rows.values[i]), shown, state)
    out.print(table)
    ttl = project.features.ttl
    out.print(
        f"feature view {project.features.name}: ttl {'none' if ttl is None else _age(ttl * 1000)}"
    )


def _age(ms: float | None) -> str:
    if ms is None:
        return "-"
    seconds = ms / 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def register(cli: typer.Typer) -> None:
    cli.add_typer(features_cli, name="features")

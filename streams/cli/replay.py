"""`streamscore replay`: score a past range of events with any model version, into a topic of
its own (streams/worker/replay.py), then compare with `report shadow --shadow-topic TOPIC`.

Exit codes: 0 replayed; 1 nothing could be replayed (an empty range, a model or version not
in the repository, a service unreachable), with one line saying why.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.cli.common import Bootstrap, RedisUrl, TritonUrl, err, fail, given, out, settings_error
from streams.cli.report import From, Since, To


def replay(
    model: Annotated[str, typer.Option(help="NAME[:VERSION] to score with; newest if omitted.")],
    to_topic: Annotated[str, typer.Option(help="Topic the replayed predictions go to.")],
    since: Since = None,
    start: From = None,
    end: To = None,
    lateness: Annotated[
        float, typer.Option(help="Seconds an event may be sent after the range's end.", min=0)
    ] = 60.0,
    bootstrap: Bootstrap = None,
    redis_url: RedisUrl = None,
    triton_url: TritonUrl = None,
) -> None:
    """Score the events of a past range with NAME[:VERSION], through the workers' pipeline."""
    from streams.client.errors import ClientError
    from streams.report.errors import ReportError
    from streams.report.reading import TimeRange
    from streams.routing import RoutingError
    from streams.routing.catalog import ready_ref
    from streams.worker.replay import replay as run_replay
    from streams.worker.settings import WorkerSettings

    options = given(
        kafka={"bootstrap": bootstrap}, redis={"url": redis_url}, triton={"grpc_url": triton_url}
    )
    from inference.repository import ModelRepository

    try:
        settings = WorkerSettings(**options)
    except ValidationError as exc:
        raise settings_error(exc) from None
    if to_topic in {settings.topics.predictions, settings.topics.shadow, settings.topics.events}:
        raise fail(f"--to-topic {to_topic} is a live topic: give the replay a topic of its own")
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        window = TimeRange.parse(since, start, end)
        triton = settings.triton.client()
        try:
            ref = ready_ref(triton, model, ModelRepository(settings.model_repository))
        finally:
            triton.close()
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("events", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, done))

            stats = asyncio.run(run_replay(settings, window, ref, to_topic, lateness, progress))
    except (ReportError, ClientError, RoutingError) as exc:
        raise fail(exc) from None
    if not stats.read:
        first, last = window.text()
        raise fail(f"no events between {first} and {last} in {settings.topics.events}")
    out.print(
        f"replayed {stats.scored:,} events with {ref} into {to_topic} "
        f"({stats.outside:,} read outside the range, {stats.unscorable:,} not scorable); "
        f"compare: streamscore report shadow --from {window.text()[0]} --to {window.text()[1]} "
        f"--shadow-topic {to_topic} --out report/"
    )


def register(cli: typer.Typer) -> None:
    cli.command()(replay)

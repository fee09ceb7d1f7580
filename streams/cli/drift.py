"""`streamscore drift agent | status | calibrate`: drift monitoring from the command line.

The agent is drift/agent.py; the status it writes is read from Redis; calibration is
drift/calibration.py. docs/drift.md explains the detectors and their defaults.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import redis
import typer
from pydantic import ValidationError
from rich.table import Table

from streams.cli.common import Bootstrap, RedisUrl, fail, given, out, settings_error

drift_cli = typer.Typer(help="Watch what the models see and say; ask for retraining.")


@drift_cli.command()
def agent(
    bootstrap: Bootstrap = None,
    redis_url: RedisUrl = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Port of /metrics (env STREAMSCORE_DRIFT_AGENT_METRICS_PORT)."),
    ] = None,
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info",
) -> None:
    """Merge the workers' window summaries, run the detectors, raise alerts and requests."""
    from drift import agent as drift_agent
    from drift.settings import DriftAgentSettings

    options = given(
        kafka={"bootstrap": bootstrap},
        redis={"url": redis_url},
        agent={"metrics_port": metrics_port},
    )
    try:
        settings = DriftAgentSettings(**options)
    except ValidationError as exc:
        raise settings_error(exc) from None
    drift_agent.run(settings, loglevel)


def _cell(value: float | None, threshold: float) -> str:
    if value is None:
        return "-"
    mark = "[red]over[/red]" if value >= threshold else "ok"
    return f"{value:.4f} {mark}"


@drift_cli.command()
def status(
    redis_url: RedisUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw status.")] = False,
) -> None:
    """Each model version's current window, per feature, against the PSI threshold."""
    from drift.settings import DriftAgentSettings, status_key_of

    try:
        settings = DriftAgentSettings(**given(redis={"url": redis_url}))
        raw = settings.redis.client().get(status_key_of(settings.use_case().name))
    except ValidationError as exc:
        raise settings_error(exc) from None
    except redis.RedisError as exc:
        raise fail(f"redis: {exc}") from None
    if raw is None:
        raise fail("no drift status yet: is `streamscore drift agent` running?")
    data = json.loads(raw)
    if as_json:
        out.print_json(data=data)
        return
    age = time.time() - data["written_at"]
    threshold = data["psi_threshold"]
    out.print(f"written {age:.0f}s ago by the drift agent; PSI threshold {threshold}")
    for vkey, entry in sorted(data["versions"].items()):
        window = entry.get("window")
        if window is None:
            out.print(f"{vkey}: no open window")
            continue
        share = window["features_missing"] / max(window["events"], 1)
        out.print(
            f"{vkey}: window from {window['start']} ms, {window['events']} events so far, "
            f"{share:.1%} scored without entity features"
        )
        table = Table("feature", "samples", "psi (so far)")
        for column, cell in window["columns"].items():
            table.add_row(column, str(cell["samples"]), _cell(cell["psi"], threshold))
        out.print(table)


def register(cli: typer.Typer) -> None:
    cli.add_typer(drift_cli, name="drift")


@drift_cli.command()
def calibrate(
    events: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Events of each stationary stream [default: 1,000,000; 100,000 with --quick].",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Short streams and one seed: a smoke test, not a calibration.")
    ] = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the table (markdown) to FILE.")
    ] = None,
    feature: Annotated[
        str | None,
        typer.Option(help="The event field the shifts move [default: the project's drift field]."),
    ] = None,
    seed: Annotated[int, typer.Option(help="First seed; streams run once per seed.")] = 0,
    repeats: Annotated[
        int | None, typer.Option(min=1, help="Seeds per stream [default: 5; 1 with --quick].")
    ] = None,
    model_repository: Annotated[
        Path | None,
        typer.Option(
            help="Use this repository's newest version of the project's first model (made "
            "there if absent) instead of making one in a temporary folder."
        ),
    ] = None,
) -> None:
    """False alarms and detection delays of each detector and threshold, on simulated
    streams run in-process through the worker's and the agent's drift code (no Kafka).
    Window, detector and policy settings come from STREAMSCORE_DRIFT_* like the agent's."""
    from drift.calibration import calibrate as run_calibration
    from drift.calibration_table import render
    from drift.settings import DriftAgentSettings

    try:
        settings = DriftAgentSettings()
    except ValidationError as exc:
        raise settings_error(exc) from None
    given_options = [
        f"--events {events}" if events is not None else "",
        "--quick" if quick else "",
        f"--feature {feature}" if feature is not None else "",
        f"--seed {seed}" if seed else "",
        f"--repeats {repeats}" if repeats is not None else "",
    ]
    command = " ".join(["streamscore drift calibrate", *filter(None, given_options)])
    try:
        result = run_calibration(
            events=events, feature=feature, seed=seed, quick=quick, repeats=repeats,
            repository=model_repository, window=settings.window,
            detectors=settings.detectors, policy=settings.policy,
        )  # fmt: skip
    except ValueError as exc:
        raise fail(exc) from None
    table = render(result, command)
    out.print(table, markup=False)
    if out_file is not None:
        out_file.write_text(table)

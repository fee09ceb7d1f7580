"""`streamscore demo`: the whole loop, live (what `make run` runs; streams/demo/run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from streams.cli.common import fail


def demo(
    rate: Annotated[float | None, typer.Option(help="Events per second [1000].", min=1)] = None,
    seconds: Annotated[
        float | None, typer.Option(help="Least streaming time, seconds [120].", min=5)
    ] = None,
    drift_at: Annotated[
        float | None,
        typer.Option(help="Seconds into the stream the project's drift field shifts [30]."),
    ] = None,
    batch_ms: Annotated[
        float | None, typer.Option(help="The worker's batch time T, ms [20].", min=0.1)
    ] = None,
    engine: Annotated[
        str, typer.Option(help="Scoring engine: librdkafka (default) or faust.")
    ] = "librdkafka",
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 0,
    quick: Annotated[
        bool, typer.Option("--quick", help="The compressed run (40 s of stream) CI takes.")
    ] = False,
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="Where the shadow report is written.")
    ] = Path("demo-report"),
    canary: Annotated[
        bool,
        typer.Option(
            "--canary",
            help="The canary scenario instead: a canary, its split report, promote or "
            "rollback; then a bad canary the guard rolls back (--seconds: phase 1 [60]).",
        ),
    ] = False,
) -> None:
    """Start everything, stream with drift, watch it retrain and shadow, write the report;
    with --canary, canary, report, promote or rollback, and the guard's rollback."""
    from rich.console import Console

    from streams.cli.project import with_trainer
    from streams.cli.services import services_settings
    from streams.demo.run import DemoPlan, run_demo

    with_trainer()
    if engine not in ("librdkafka", "faust"):
        raise fail(f"--engine must be librdkafka or faust, not {engine!r}")
    values: dict[str, Any] = {"engine": engine, "seed": seed, "report_dir": report_dir}
    for name, value in {
        "rate": rate,
        "seconds": seconds,
        "drift_at_s": drift_at,
        "batch_timeout_ms": batch_ms,
    }.items():
        if value is not None:
            values[name] = value
    if canary:
        from streams.demo.canary import CanaryPlan, run_canary

        if drift_at is not None:
            raise fail("--drift-at is for the drift demo; --canary streams without drift")
        values.pop("drift_at_s", None)
        canary_plan = CanaryPlan.quick(**values) if quick else CanaryPlan(**values)
        raise typer.Exit(run_canary(services_settings(), canary_plan, Console()))
    plan = DemoPlan.quick(**values) if quick else DemoPlan(**values)
    if plan.drift_at_s >= plan.seconds:
        raise fail(f"--drift-at ({plan.drift_at_s:g}) must come before the end ({plan.seconds:g})")
    raise typer.Exit(run_demo(services_settings(), plan, Console()))


def register(cli: typer.Typer) -> None:
    cli.command()(demo)

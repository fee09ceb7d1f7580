"""`streamscore simulate`: reproducible synthetic events and labels, with drift on demand.

The simulator is streams/simulation/simulator.py, over the project's generator (its
``simulation`` section); this is its command line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import typer

from streams.cli.common import Bootstrap, error, fail, out
from streams.cli.records import client_settings, show_failures
from streams.client import ClientError, EventProducer, LabelProducer, check_topic
from streams.simulation import simulator as sim


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
    entities: Annotated[
        int | None,
        typer.Option(help="Size of the entity id pool (default: the project's).", min=1),
    ] = None,
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
        str | None, typer.Option(help="Event field that drifts (an error lists the choices).")
    ] = None,
    drift_window: Annotated[
        int, typer.Option(help="Events over which gradual drift ramps up.", min=1)
    ] = 1000,
    drift_magnitude: Annotated[float, typer.Option(help="Scales the shift.", min=0.0)] = 1.0,
    drift_unit: Annotated[
        Literal["risk", "sigma"],
        typer.Option(help="risk: riskier by the ground truth; sigma: MAGNITUDE std deviations."),
    ] = "risk",
    bootstrap: Bootstrap = None,
) -> None:
    """Send reproducible synthetic events (and their labels) of the project at a steady rate."""
    if (count is None) == (duration is None):
        raise typer.BadParameter("give exactly one of --count and --duration")
    drift = None
    if drift_at is not None or drift_feature is not None:
        if drift_at is None or drift_feature is None:
            raise typer.BadParameter("drift needs both --drift-at and --drift-feature")
        try:
            drift = sim.Drift(
                drift_feature, drift_at, drift_kind, drift_window, drift_magnitude, drift_unit
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    config = client_settings(bootstrap)
    project = config.use_case()
    if project.spec.simulation is None:
        raise fail(f"project {project.name} has no simulation section: nothing to simulate")
    if drift is not None:
        try:
            sim.check_drift(project, sim.generator_of(project), drift)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    topic = topic or config.topics.events
    labels_topic = labels_topic or config.topics.labels
    try:
        for name in (topic, labels_topic) if labels else (topic,):
            check_topic(config, name)
        with (
            EventProducer(config, topic, validate=False) as events,
            LabelProducer(config, labels_topic, validate=False) as outcomes,
        ):
            # The clock of event_time starts here, as the pacing does, once the producers
            # are connected: earlier, every event would carry the set-up time as latency.
            events.connect()
            outcomes.connect()
            simulator = sim.EventSimulator(
                project, seed, entities, drift,
                (start or datetime.now(UTC)).replace(tzinfo=UTC), rate,
            )  # fmt: skip
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
        raise fail(exc) from None
    show_failures(failures)
    rate_seen = report.events / report.seconds if report.seconds > 0 else 0.0
    out.print(
        f"sent {report.events} events and {report.labels} labels, failed {len(failures)}, "
        f"{rate_seen:,.0f} events/s, {report.seconds:.2f} s"
    )
    if failures:
        raise typer.Exit(1)


def register(cli: typer.Typer) -> None:
    cli.command()(simulate)

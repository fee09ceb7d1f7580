"""The `streamscore` command: one Typer app, one module per group of commands.

    services   up | down | status         the local Kafka, Redis and Triton
    worker     worker                     a scoring worker (either engine)
    models     models list | promote | shadow add | shadow remove | canary | rollback
    features   features load | load-simulated | get
    records    produce | consume          records in and out of the topics by hand
    simulate   simulate                   synthetic events and labels, drift on demand
    retrain    retrain request | worker   ask for a retrained model; the worker that answers
    demo       demo                       the live demo behind `make run`
    drift      drift agent | status | calibrate
    report     report shadow               shadow-mode comparison: evidence and a verdict
    replay     replay                     score a past range of events with any version
    project    project check | init       check a project file; write one from an example

Each module has ``register(cli)``; errors are printed by :func:`streams.cli.common.fail`.
Every command takes ``--project PATH`` (streams/cli/project.py): the use case it works on.
"""

from __future__ import annotations

import typer

from streams.cli import (
    demo,
    drift,
    features,
    models,
    project,
    records,
    replay,
    report,
    retrain,
    services,
    simulate,
    worker,
)

cli = typer.Typer(
    name="streamscore",
    help="Real-time inference on an event stream: Kafka in, Redis features, Triton models.",
    no_args_is_help=True,
    add_completion=False,
)
for group in (
    services,
    worker,
    models,
    features,
    records,
    simulate,
    retrain,
    demo,
    drift,
    report,
    replay,
    project,
):
    group.register(cli)
project.add_project_option(cli)

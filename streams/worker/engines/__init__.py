"""The engines that feed a worker's batch runner: one module per `--engine` value.

    faust        a Faust agent (``noack_take``): the default; Faust's tables serve the
                 stateful stream jobs beside it
    librdkafka   librdkafka's batch consumer: the same pipeline and delivery contract, at
                 several times the throughput (BENCHMARKS.md)

docs/architecture.md, "Two engines", says why both exist.
"""

from __future__ import annotations

import importlib

from streams.worker.group import check_group
from streams.worker.settings import WorkerSettings

ENGINES = ("faust", "librdkafka")


def run(settings: WorkerSettings, loglevel: str = "info") -> None:
    """Run a worker with the engine its settings name, until it is told to stop."""
    check_group(settings)  # the other engine's workers hold the group: one line, not a hang
    module = importlib.import_module(f"streams.worker.engines.{settings.engine}")
    module.run(settings, loglevel)

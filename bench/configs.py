"""The configurations under test, and how to start one on given topics.

Baselines (raw, Faust, naive) and the StreamScore worker with each engine; the librdkafka one
also with its latency target off (``…-fixed``); each worker also with drift monitoring
explicitly off and on (``…-drift-off``, ``…-drift-on``); and the librdkafka worker on more
partitions as 1 and as 2 processes in one group (the scale part, bench/scale_out.py).

Each reads an events topic with a consumer group of its own and writes one output per event
to a topic of its own (``output``); StreamScore also writes shadow outputs and a DLQ. All of
them are separate processes, started the way an operator would start them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from bench.child import Child
from bench.kafka_io import PARTITIONS
from bench.options import SCALE_KEYS, SCALE_PARTITIONS, TARGET_OFF, Options
from bench.stack import Stack
from infra.config import child_environment
from infra.process import free_port
from streams.topics import TopicNames
from streams.worker.settings import on_services

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Configuration:
    key: str
    title: str
    output_schema: str  # what the counted output topic holds: "event" or "prediction"
    worker_env: tuple[tuple[str, str], ...] | None = None  # a StreamScore worker: its settings
    partitions: int = PARTITIONS  # of the pre-filled events topic it reads
    workers: int = 1  # processes in its consumer group

    @property
    def is_worker(self) -> bool:
        return self.worker_env is not None


RAW = Configuration("raw", "raw passthrough (confluent-kafka)", "event")
FAUST = Configuration("faust", "Faust passthrough", "event")
NAIVE = Configuration("naive", "naive pipeline (per event)", "prediction")
STREAMSCORE = Configuration(
    "streamscore", "StreamScore, default engine (primary + 1 shadow)", "prediction", ()
)
STREAMSCORE_LIBRDKAFKA = Configuration(
    "streamscore-librdkafka",
    "StreamScore, librdkafka engine (primary + 1 shadow)",
    "prediction",
    (("STREAMSCORE_ENGINE", "librdkafka"),),
)
STREAMSCORE_LIBRDKAFKA_FIXED = Configuration(
    TARGET_OFF,
    "StreamScore, librdkafka engine, fixed N/T (latency target off) (primary + 1 shadow)",
    "prediction",
    (*(STREAMSCORE_LIBRDKAFKA.worker_env or ()), ("STREAMSCORE_LATENCY_TARGET_MS", "0")),
)
SCALE_CONFIGURATIONS = tuple(
    Configuration(
        key,
        f"StreamScore, librdkafka engine, {SCALE_PARTITIONS} partitions, "
        f"{workers} worker{'s' if workers > 1 else ''} (primary + 1 shadow)",
        "prediction",
        STREAMSCORE_LIBRDKAFKA.worker_env,
        partitions=SCALE_PARTITIONS,
        workers=workers,
    )
    for workers, key in enumerate(SCALE_KEYS, 1)
)


def _drift(base: Configuration, enabled: bool) -> Configuration:
    """``base`` with drift monitoring (counting scored batches into window summaries)
    explicitly off or on; on is the worker's default."""
    state = "on" if enabled else "off"
    return Configuration(
        f"{base.key}-drift-{state}",
        f"{base.title.removesuffix(' (primary + 1 shadow)')}, drift monitoring {state} "
        "(primary + 1 shadow)",
        base.output_schema,
        (*(base.worker_env or ()), ("STREAMSCORE_DRIFT_ENABLED", "true" if enabled else "false")),
    )


DRIFT_CONFIGURATIONS = tuple(
    _drift(base, enabled)
    for base in (STREAMSCORE, STREAMSCORE_LIBRDKAFKA)
    for enabled in (False, True)
)
CONFIGURATIONS = {
    c.key: c
    for c in (
        RAW, FAUST, NAIVE, STREAMSCORE, STREAMSCORE_LIBRDKAFKA, STREAMSCORE_LIBRDKAFKA_FIXED,
        *DRIFT_CONFIGURATIONS, *SCALE_CONFIGURATIONS,
    )
}  # fmt: skip


def available(config: Configuration) -> bool:
    """A worker variant runs only where the worker reads the settings it sets, to values it
    accepts (so an older worker is skipped, not misconfigured)."""
    if not config.worker_env:
        return True
    from pydantic import ValidationError

    from streams.worker.settings import WorkerSettings

    env = dict(config.worker_env)
    if not env.keys() <= {name for name, _ in WorkerSettings.variables()}:
        return False
    with mock.patch.dict(os.environ, env):  # read them as the worker would
        try:
            WorkerSettings()
        except ValidationError:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Topics:
    events: str
    output: str  # one record per event: counted and timed
    outputs: tuple[str, ...]  # every topic it writes (LogAppendTime), ``output`` included
    inputs: tuple[str, ...]  # topics it reads or may touch besides ``events``
    names: TopicNames | None = None  # a worker's topics


def topics_for(config: Configuration, prefix: str, events: str) -> Topics:
    if not config.is_worker:
        return Topics(events, f"{prefix}.out", (f"{prefix}.out",), ())
    names = TopicNames().prefixed(prefix).model_copy(update={"events": events})
    outputs = (names.predictions, names.shadow, names.dlq)
    inputs = tuple(v for k, v in names if v not in outputs and k != "events")
    return Topics(events, names.predictions, outputs, inputs, names)


@dataclass(slots=True)
class Launched:
    child: Child
    metrics_url: str | None = None
    drift_enabled: bool | None = None  # a worker: whether it counts drift, as it reads it


def launch(
    config: Configuration,
    stack: Stack,
    topics: Topics,
    group: str,
    options: Options,
    log_dir: Path,
    instance: str = "",
) -> Launched:
    """Start ``config`` reading ``topics`` in ``group``; ``instance`` tells apart the logs of
    several processes of one group."""
    bootstrap = stack.config.kafka_bootstrap
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Faust apps make a data folder with mkdtemp: keep it in the run's folder, removed with it.
    tmp = log_dir.parent / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env["TMPDIR"] = str(tmp)
    common = ["--bootstrap", bootstrap, "--input", topics.events, "--output", topics.output,
              "--group", group]  # fmt: skip
    batch = ["--batch-size", str(options.batch_size),
             "--batch-timeout-ms", str(options.batch_timeout_ms)]  # fmt: skip
    python = sys.executable
    log = log_dir / f"{group}{instance}.log"
    if config is RAW:
        argv = [python, "-m", "bench.baselines.raw_passthrough", *common, *batch]
    elif config is FAUST:
        argv = [python, "-m", "bench.baselines.faust_passthrough", *common, *batch]
    elif config is NAIVE:
        argv = [
            python, "-m", "bench.baselines.naive", *common,
            "--redis-url", stack.redis_url, "--triton", stack.config.triton_grpc_url,
            "--model", stack.primary.name, "--model-version", stack.primary.version,
        ]  # fmt: skip
    else:
        port = free_port()
        settings = on_services(
            stack.config,
            app_id=group,
            metrics_port=port,
            topics=topics.names,
            batch={"size": options.batch_size, "timeout_ms": options.batch_timeout_ms},
        )
        # `--set NAME=VALUE` and the configuration's own settings, as variables on top.
        env = {**child_environment(settings), **options.worker_env, **dict(config.worker_env or ())}
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["TMPDIR"] = str(tmp)
        argv = [python, "-m", "streams.cli", "worker", "--loglevel", "warn"]
        child = Child(f"{config.key}{instance}", argv, env, log, ROOT)
        return Launched(child, f"http://127.0.0.1:{port}/metrics", _drift_enabled(env))
    return Launched(Child(config.key, argv, env, log, ROOT))


def _drift_enabled(env: dict[str, str]) -> bool:
    """Whether a worker started with ``env`` counts drift: its settings, read as it reads them."""
    from streams.worker.settings import WorkerSettings

    with mock.patch.dict(os.environ, env):
        return bool(WorkerSettings().drift.enabled)


def latency_target(options: Options) -> dict[str, str]:
    """The p99 latency target the librdkafka workers of a run hold (0: off), as the worker
    reads its settings with the run's ``--set`` on top; {} where it has no such setting."""
    from streams.worker.settings import WorkerSettings

    with mock.patch.dict(os.environ, options.worker_env):
        target = getattr(WorkerSettings().batch, "latency_target_ms", None)
    return {} if target is None else {"STREAMSCORE_LATENCY_TARGET_MS": f"{target:g}"}

"""What a bench run does: its parts, sizes for `--quick` and the full run, and the worker
settings.

Every measurement is capped by count AND by time, whichever comes first, so that the slow
naive pipeline cannot stretch a run: throughput stops after ``events`` outputs or
``max_seconds`` after the first output; each latency load lasts ``latency_seconds``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

# "streamscore" is the worker as shipped; "streamscore-librdkafka" the same worker with its
# librdkafka consumer engine, which holds a p99 latency target by default
# (STREAMSCORE_LATENCY_TARGET_MS); "streamscore-librdkafka-fixed" that engine with the target
# off (fixed N and T, as before the target), for target on ÷ off. Each is skipped where the
# worker has no such setting.
TARGET_ON, TARGET_OFF = "streamscore-librdkafka", "streamscore-librdkafka-fixed"
WORKER_KEYS = ("streamscore", TARGET_ON, TARGET_OFF)
CONFIG_KEYS = ("raw", "faust", "naive", *WORKER_KEYS)
# Drift monitoring off and on, measured in interleaved pairs (off, on, on, off, …) for the
# ratio on ÷ off: part key → (the worker it varies, its "off" and "on" configurations).
DRIFT_PARTS = {
    "drift": (
        "streamscore-librdkafka",
        "streamscore-librdkafka-drift-off",
        "streamscore-librdkafka-drift-on",
    ),
    "drift-faust": ("streamscore", "streamscore-drift-off", "streamscore-drift-on"),
}
DRIFT_KEYS = tuple(k for _, off, on in DRIFT_PARTS.values() for k in (off, on))
# Scale-out (part "scale"): the librdkafka worker on an events topic of SCALE_PARTITIONS
# partitions, as 1 and as 2 worker processes in one consumer group.
SCALE_PARTITIONS = 8
SCALE_KEYS = tuple(f"streamscore-librdkafka-{SCALE_PARTITIONS}p-{n}w" for n in (1, 2))
PART_KEYS = (*CONFIG_KEYS, *DRIFT_PARTS, "scale", "components")
LOAD_FRACTIONS = (0.25, 0.5, 0.8)


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool
    events: int  # pre-filled events, and the throughput cap by count
    max_seconds: float  # throughput cap by time, from the first output
    latency_seconds: float  # length of each paced load…
    latency_events: int  # …or this many events, whichever comes first
    component_seconds: float  # per component measurement
    drain_seconds: float  # how long a load's outputs may trail it before it counts as behind
    entities: int
    seed: int
    batch_size: int
    batch_timeout_ms: float
    drift_pairs: int = 5  # interleaved off/on pairs per drift part
    worker_env: dict[str, str] = field(default_factory=dict)
    parts: tuple[str, ...] = PART_KEYS
    keep: bool = False
    write_markdown: bool = True
    command: str = "python -m bench"


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="StreamScore against raw, Faust and naive baselines, in one run.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer events, shorter loads")
    parser.add_argument("--events", type=int, help="pre-filled events (1000000; quick 200000)")
    parser.add_argument("--max-seconds", type=float, help="throughput cap by time (20; quick 4)")
    parser.add_argument(
        "--latency-seconds", type=float, help="length of each paced load (5; quick 1.5)"
    )
    parser.add_argument(
        "--latency-events", type=int, help="cap of each paced load by count (500000; quick 100000)"
    )
    parser.add_argument(
        "--component-seconds", type=float, help="per component measurement (3; quick 0.5)"
    )
    parser.add_argument("--entities", type=int, default=10_000, help="entities with features")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=512,
        help="micro-batch N: worker, passthroughs, components (the most a librdkafka worker "
        "holding its latency target takes at once)",
    )
    parser.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=20.0,
        help="micro-batch T for the same (the longest such a worker lingers)",
    )
    parser.add_argument(
        "--drift-pairs",
        type=int,
        help="interleaved drift off/on runs per drift part (5; quick 3)",
    )
    parser.add_argument(
        "--set",
        dest="worker_env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any worker setting, e.g. --set TRITON_TIMEOUT_S=2 (STREAMSCORE_ prefix optional)",
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated parts to run, of: {', '.join(PART_KEYS)} (default: all); "
        f"{TARGET_OFF}: the librdkafka worker with its latency target off (fixed N and T); "
        "drift: the librdkafka worker with drift monitoring off and on, drift-faust: the same "
        f"with the Faust engine; scale: the librdkafka worker on {SCALE_PARTITIONS} partitions "
        "as 1 and as 2 processes in one group (throughput only); `--only drift` (or "
        "drift-faust) rewrites only the drift rows and section of BENCHMARKS.md",
    )
    parser.add_argument("--keep", action="store_true", help="leave the services running at the end")
    parser.add_argument("--no-markdown", action="store_true", help="do not rewrite BENCHMARKS.md")
    args = parser.parse_args(argv)

    worker_env = {}
    for item in args.worker_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set wants NAME=VALUE, got {item!r}")
        name = name.upper()
        worker_env[name if name.startswith("STREAMSCORE_") else f"STREAMSCORE_{name}"] = value
    parts = PART_KEYS
    if args.only:
        parts = tuple(p.strip() for p in args.only.split(",") if p.strip())
        unknown = [p for p in parts if p not in PART_KEYS]
        if unknown:
            parser.error(
                f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PART_KEYS)}"
            )
    quick = bool(args.quick)
    if args.drift_pairs is not None and args.drift_pairs < 1:
        parser.error("--drift-pairs wants at least 1")

    def pick(value: float | None, full: float, fast: float) -> float:
        return value if value is not None else (fast if quick else full)

    shown = " ".join(["python -m bench", *(argv if argv is not None else _argv())])
    return Options(
        quick=quick,
        events=int(pick(args.events, 1_000_000, 200_000)),
        max_seconds=pick(args.max_seconds, 20.0, 4.0),
        latency_seconds=pick(args.latency_seconds, 5.0, 1.5),
        latency_events=int(pick(args.latency_events, 500_000, 100_000)),
        component_seconds=pick(args.component_seconds, 3.0, 0.5),
        drain_seconds=15.0 if not quick else 8.0,
        entities=args.entities,
        seed=args.seed,
        batch_size=args.batch_size,
        batch_timeout_ms=args.batch_timeout_ms,
        drift_pairs=int(pick(args.drift_pairs, 5, 3)),
        worker_env=worker_env,
        parts=parts,
        keep=args.keep,
        write_markdown=not args.no_markdown,
        command=shown.strip(),
    )


def _argv() -> list[str]:
    import sys

    return sys.argv[1:]

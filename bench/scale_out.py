"""Scale-out on this machine: the librdkafka worker on an events topic of 8 partitions, as 1
worker process and as 2 in one consumer group, each started like every worker configuration
(bench/configs.py); bench/harness.py runs the part, this module measures and reports it.

A group's first member would take every partition and score alone until the second had
joined and the group had rebalanced (the bench's broker does not hold back a group's first
rebalance). So each run fills an events topic of its own (the same events, as many as the
main topic) in one Kafka transaction left open, starts its workers, and commits it once every
worker holds partitions: the workers read committed records only, so all of them start
scoring together, and the run is measured like every other, from its first output (the
outputs of all the workers, on one output topic; the CPU of every worker's process tree).
Throughput and CPU only: the latency loads (bench/latency.py) watch one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient

from bench import cpu, load, throughput
from bench.child import Child
from bench.configs import SCALE_CONFIGURATIONS, Configuration, available, launch, topics_for
from bench.kafka_io import create_topics
from bench.options import SCALE_KEYS, SCALE_PARTITIONS
from bench.tables import Rows, md_table

if TYPE_CHECKING:
    from bench.harness import Run

SECTION = "## Scale-out on this machine"


def scale_part(run: Run, results: dict[str, Any]) -> None:
    """1 worker, then 2, each on an events topic of SCALE_PARTITIONS partitions and with a
    group of its own; a failure is an error of its row."""
    if "scale" not in run.options.parts:
        return
    if not all(available(c) for c in SCALE_CONFIGURATIONS):
        run.say("scale: the worker has no such setting here; skipped")
        return
    for config in SCALE_CONFIGURATIONS:
        run.console.rule(config.title)
        began = time.monotonic()
        entry = results["configurations"].setdefault(config.key, {})
        entry.update(title=config.title, workers=config.workers, partitions=config.partitions)
        try:
            entry["speed_probe_s"] = cpu.speed_probe()
            group_throughput(run, config, entry)
        except Exception as exc:  # one row failing must not lose the other
            results["errors"][config.key] = f"{type(exc).__name__}: {exc}"
            run.say(f"[red]{config.key}: {exc}[/]")
        entry["bench_seconds"] = round(time.monotonic() - began, 1)
    ratio = scale_ratio(results)
    if ratio is not None:
        run.say(f"[bold]scale[/]: 2 workers ÷ 1 worker = {ratio:.2f}x")


def group_throughput(run: Run, config: Configuration, out: dict[str, Any]) -> None:
    """``config.workers`` worker processes in one group, writing to one set of topics."""
    o = run.options
    prefix = f"bench-{run.id}.{config.key}"
    topics = topics_for(config, prefix, f"{prefix}.events")
    create_topics(run.bootstrap, [topics.events], [], config.partitions)
    create_topics(run.bootstrap, topics.inputs, topics.outputs)
    t0 = time.monotonic()
    held = load.prefill_held(run.bootstrap, topics.events, run.templates, o.events)
    run.say(
        f"pre-filled {topics.events} ({config.partitions} partitions) with {o.events:,} events "
        f"in {time.monotonic() - t0:.1f}s, uncommitted until every worker holds partitions"
    )
    group = f"bench-{run.id}-{config.key}"
    children: list[Child] = []
    try:
        for i in range(1, config.workers + 1):
            launched = launch(config, run.stack, topics, group, o, run.log_dir, f"-w{i}")
            children.append(launched.child)
        _settle(_holding(run.bootstrap, group, topics.events, config.workers), children)
        held.commit_transaction(30)
        result, _, _ = throughput.measure(
            run.reader, topics.output, [t for t in topics.outputs if t != topics.output],
            lambda: {**run.stack.service_pids(), "configuration": [c.pid for c in children]},
            lambda: all(c.alive() for c in children), o.events, o.max_seconds,
        )  # fmt: skip
    except Exception:
        for child in children:
            run.say(f"[red]{child.name}: last lines of {child.log}:[/]")
            run.say(child.log_tail())
        raise
    finally:
        out["stop_s"] = round(sum(c.stop() for c in children), 2)
        out["stop_killed"] = any(c.killed for c in children)
        for child in children:
            if child.killed:
                run.say(f"[yellow]  {child.name} did not exit on SIGTERM within 4 s: killed[/]")
    throughput.finish(result, run.reader, topics.output)
    out["throughput"] = t = result.summary()
    run.said(
        config.key,
        result,
        f", {_cores(t):.2f} cores busy ({_cores(t, 'configuration'):.2f} of them the workers)",
    )


def _settle(ready: Callable[[], bool], children: list[Child], timeout_s: float = 120.0) -> None:
    """Wait until ``ready()``: every worker started and holds its partitions."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if not all(c.alive() for c in children):
            raise RuntimeError("a worker exited before the group settled")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the group did not settle within {timeout_s:.0f} s")
        time.sleep(0.1)


def _holding(bootstrap: str, group: str, topic: str, workers: int) -> Callable[[], bool]:
    """Whether ``group`` is stable with ``workers`` members, each holding partitions of
    ``topic``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def ready() -> bool:
        try:
            info = admin.describe_consumer_groups([group])[group].result(5)
        except KafkaException:
            return False
        holding = [
            m
            for m in info.members
            if any(tp.topic == topic for tp in m.assignment.topic_partitions)
        ]
        return info.state == ConsumerGroupState.STABLE and len(holding) == workers

    return ready


def _cores(t: dict[str, Any], group: str | None = None) -> float:
    """Cores kept busy over the window: by every process measured, or by one group."""
    busy = sum(t["cpu_s"].values()) if group is None else t["cpu_s"].get(group, 0.0)
    return float(busy / t["window_s"]) if t["window_s"] else 0.0


def _rate(results: dict[str, Any], key: str) -> float | None:
    t = results["configurations"].get(key, {}).get("throughput")
    return float(t["events_per_s"]) if t and t["events_per_s"] else None


def scale_ratio(results: dict[str, Any]) -> float | None:
    """Events/s of 2 workers ÷ 1 worker; None unless both were measured."""
    one, two = (_rate(results, k) for k in SCALE_KEYS)
    return two / one if one and two else None


def scale_rows(results: dict[str, Any]) -> Rows:
    header = ["configuration", "events/s", "CPU-s / 1k events", "cores busy (all)",
              "cores busy (workers)", "other processes (cores)", "notes"]  # fmt: skip
    rows = []
    for key in SCALE_KEYS:
        entry = results["configurations"].get(key)
        if entry is None and key not in results["errors"]:
            continue
        t = (entry or {}).get("throughput")
        notes = []
        if t and t["capped_by"] == "time":
            notes.append(f"capped by time: {t['outputs']:,} events")
        if key in results["errors"]:
            notes.append("failed: " + results["errors"][key][:80])
        rows.append(
            [(entry or {}).get("title", key),
             f"{t['events_per_s']:,.0f}" if t else "—",
             f"{t['cpu_s_per_1k']:.3f}" if t else "—",
             f"{_cores(t):.2f}" if t else "—",
             f"{_cores(t, 'configuration'):.2f}" if t else "—",
             f"{t['other_cores']:.2f}" if t else "—",
             "; ".join(notes)]
        )  # fmt: skip
    return header, rows


def scale_section(results: dict[str, Any]) -> list[str]:
    """BENCHMARKS.md's scale-out section; none when the part was not run."""
    table = scale_rows(results)
    if not table[1]:
        return []
    o = results["options"]
    cores = results.get("machine", {}).get("cores_usable", "?")
    ratio = scale_ratio(results)
    return [
        SECTION,
        "",
        "The librdkafka worker (primary + 1 shadow) as 1 worker process and as 2 in one "
        "consumer group, each started like the worker rows above, on an events topic with "
        f"{SCALE_PARTITIONS} partitions pre-filled with the same {o['events']:,} events; the "
        "workers' outputs go to one topic (the default 4 partitions) and are counted together. "
        "So that no worker scores alone while the other joins, each run writes its events in "
        "one Kafka transaction and commits it only once every worker holds partitions (the "
        "workers read committed records only); from there it is measured like every "
        "throughput run. Cores busy: CPU-s over the run of every process measured (the "
        "workers, broker, Redis, Triton) per second, and of the workers alone. Throughput "
        "only: the latency loads watch one process.",
        "",
        md_table(table),
        "",
        f"2 workers ÷ 1 worker: **{'n/a' if ratio is None else f'{ratio:.2f}x'}**. Both "
        f"workers share this machine's {cores} cores with the broker, Redis and Triton, so "
        "the ratio shows the contention here, not the scaling on more cores.",
        "",
    ]

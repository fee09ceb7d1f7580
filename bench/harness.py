"""One bench run: services up, events in, each configuration measured in turn, services down.

Order: raw passthrough, Faust passthrough, naive pipeline, StreamScore with the default
engine, with the librdkafka engine (latency target on) and with the librdkafka engine with
its latency target off (each: throughput on the pre-filled topic, then latency under paced
loads on a fresh one), then the drift pairs (the worker with drift monitoring off and on,
throughput measured in interleaved runs: off, on, on, off, off, on, …, each from the start of
the pre-filled topic, then latency once each for the librdkafka pair), then scale-out (the
librdkafka worker as 1 and as 2 processes on events topics of 8 partitions, pre-filled with
the same events, throughput only), then the components alone. Everything runs on this machine
against the same broker and events, and all but scale-out on the same topic layout. A
configuration that fails is reported with its log and the run goes on.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import components, cpu, latency, load, machine, scrape, throughput
from bench.child import sigterm_as_interrupt
from bench.configs import (
    CONFIGURATIONS,
    Configuration,
    available,
    latency_target,
    launch,
    topics_for,
)
from bench.drift_pairs import check_drift, drift_parts
from bench.kafka_io import TopicReader, create_topics
from bench.options import (
    CONFIG_KEYS,
    DRIFT_KEYS,
    DRIFT_PARTS,
    LOAD_FRACTIONS,
    Options,
)
from bench.scale_out import scale_part
from bench.stack import Stack, load_features, project_codec, running_stack, time_field

RECORDED_OPTIONS = (
    "quick", "events", "max_seconds", "latency_seconds", "latency_events",
    "component_seconds", "drain_seconds", "entities", "batch_size", "batch_timeout_ms",
    "drift_pairs",
)  # fmt: skip
TEMPLATES = 50_000  # distinct events; the pre-filled topic cycles through them


class Run:
    def __init__(self, options: Options, stack: Stack, console: Console, log_dir: Path) -> None:
        self.options = options
        self.stack = stack
        self.console = console
        self.log_dir = log_dir
        self.id = uuid.uuid4().hex[:6]
        self.bootstrap = stack.config.kafka_bootstrap
        self.reader = TopicReader(self.bootstrap)
        self.templates: list[load.Template] = []
        self.events_topic = f"bench-{self.id}.events"

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def prepare(self) -> None:
        o = self.options
        t0 = time.monotonic()
        load_features(self.stack, o.seed, o.entities)
        parts = set(o.parts)
        if not parts & {*CONFIG_KEYS, *DRIFT_PARTS, "scale"}:
            return  # components only: no events needed
        self.templates = load.templates(o.seed, o.entities, min(o.events, TEMPLATES))
        if not parts & {*CONFIG_KEYS, *DRIFT_PARTS}:
            return  # scale-out only: it fills topics of its own
        create_topics(self.bootstrap, [self.events_topic], [])
        load.prefill(self.bootstrap, self.events_topic, self.templates, o.events)
        self.say(
            f"pre-filled {self.events_topic} with {o.events:,} events "
            f"({o.entities:,} entities with features) in {time.monotonic() - t0:.1f}s"
        )

    # -- one configuration ---------------------------------------------------------------
    def configuration(self, config: Configuration, out: dict[str, Any]) -> None:
        """Fills ``out`` as it goes, so a failure late in the run keeps what was measured."""
        out["title"] = config.title
        out["speed_probe_s"] = cpu.speed_probe()
        result = self.run_throughput(config, out)
        self.said(config.key, result)
        if result.rate <= 0:
            raise RuntimeError("no rate measured; latency loads skipped")
        out["latency"] = self.run_latency(config, result.rate)

    def said(self, name: str, result: throughput.Throughput, extra: str = "") -> None:
        self.say(
            f"[bold]{name}[/] throughput {result.rate:,.0f} events/s "
            f"({result.span.records:,} outputs, capped by {result.capped_by}), "
            f"{result.cpu_per_1k:.3f} CPU-s per 1k events{extra}"
        )
        if result.window_s and result.other_cpu_s / result.window_s > 0.2:
            self.say(
                f"[yellow]  other processes kept {result.other_cpu_s / result.window_s:.1f} "
                "cores busy during the run: the numbers are disturbed[/]"
            )

    def _roots(self, pid: int) -> Callable[[], dict[str, list[int]]]:
        return lambda: {**self.stack.service_pids(), "configuration": [pid]}

    def run_throughput(
        self, config: Configuration, out: dict[str, Any], tag: str = ""
    ) -> throughput.Throughput:
        o = self.options
        topics = topics_for(config, f"bench-{self.id}.{config.key}{tag}", self.events_topic)
        create_topics(self.bootstrap, topics.inputs, topics.outputs)
        group = f"bench-{self.id}-{config.key}{tag}"
        launched = launch(config, self.stack, topics, group, o, self.log_dir)
        window = throughput.Window()
        if launched.metrics_url is not None:
            window = throughput.Window(
                on_start=lambda: self._scrapes(launched.metrics_url),
                on_end=lambda: self._scrapes(launched.metrics_url),
            )
        try:
            result, before, after = throughput.measure(
                self.reader, topics.output, [t for t in topics.outputs if t != topics.output],
                self._roots(launched.child.pid), launched.child.alive,
                o.events, o.max_seconds, window=window,
            )  # fmt: skip
        except Exception:
            self.say(f"[red]{config.key} failed; last lines of {launched.child.log}:[/]")
            self.say(launched.child.log_tail())
            raise
        finally:
            out["stop_s"] = round(launched.child.stop(), 2)
            out["stop_killed"] = launched.child.killed
            if launched.child.killed:
                self.say(f"[yellow]  {config.key} did not exit on SIGTERM within 4 s: killed[/]")
        throughput.finish(result, self.reader, topics.output)
        out["throughput"] = result.summary()
        if before is not None and after is not None:
            wall = after["t"] - before["t"]
            out["worker"] = scrape.worker_breakdown(before["worker"], after["worker"], wall)
            out["triton"] = scrape.triton_breakdown(before["triton"], after["triton"])
        if launched.drift_enabled is not None:
            counts = scrape.drift_counts(after["worker"]) if after is not None else None
            out["drift"] = {"enabled": launched.drift_enabled, **(counts or {})}
            if counts is not None:
                check_drift(launched.drift_enabled, counts)
            elif config.key in DRIFT_KEYS:
                raise RuntimeError("drift sanity check: the worker's metrics were not scraped")
        return result

    def _scrapes(self, worker_url: str | None) -> dict[str, Any] | None:
        if worker_url is None:
            return None
        triton_url = (
            f"http://{self.stack.config.host}:{self.stack.config.triton_metrics_port}/metrics"
        )
        try:
            return {
                "t": time.monotonic(),
                "worker": scrape.scrape(worker_url),
                "triton": scrape.scrape(triton_url),
            }
        except OSError as exc:
            self.say(f"[yellow]metrics not scraped: {exc}[/]")
            return None

    def run_latency(self, config: Configuration, max_rate: float) -> list[dict[str, Any]]:
        o = self.options
        prefix = f"bench-{self.id}.{config.key}-lat"
        topics = topics_for(config, prefix, f"{prefix}.events")
        # The events topic too keeps the broker's time: it tells the way-in part apart.
        create_topics(self.bootstrap, topics.inputs, [topics.events, *topics.outputs])
        group = f"bench-{self.id}-{config.key}-lat"
        launched = launch(config, self.stack, topics, group, o, self.log_dir)
        sender = load.PacedSender(self.bootstrap, topics.events, self.templates)
        try:
            loads = latency.run_loads(
                sender, self.reader, topics.output, max_rate, LOAD_FRACTIONS,
                o.latency_seconds, o.latency_events, launched.child.alive,
                self._roots(launched.child.pid),
                drain_timeout_s=o.drain_seconds,
            )  # fmt: skip
        except Exception:
            self.say(f"[red]{config.key} latency failed; last lines of {launched.child.log}:[/]")
            self.say(launched.child.log_tail())
            raise
        finally:
            launched.child.stop()
            sender.close()
        latency.attribute(
            loads,
            self.reader.read_all(topics.output),
            project_codec(config.output_schema),
            self.reader.read_all(topics.events),
            project_codec("event"),
            time_field(config.output_schema),
            time_field("event"),
        )
        for ld in loads:
            p = latency.percentiles(ld.latencies_ms)
            w = latency.percentiles(ld.to_broker_ms)
            behind = "" if ld.caught_up else " [yellow](fell behind)[/]"
            if ld.other_cores > 0.2:
                behind += f" [yellow](other processes busy: {ld.other_cores:.1f} cores)[/]"
            self.say(
                f"  latency @{ld.fraction:.0%} ({ld.sent.achieved:,.0f}/s of "
                f"{ld.sent.rate:,.0f}/s asked): p50 {p.get('p50', 0):.0f} ms, "
                f"p95 {p.get('p95', 0):.0f} ms, p99 {p.get('p99', 0):.0f} ms "
                f"(way in: p50 {w.get('p50', 0):.0f}, p99 {w.get('p99', 0):.0f} ms){behind}"
            )
        return [ld.summary() for ld in loads]


def run(options: Options, console: Console) -> dict[str, Any]:
    """Everything, in order; the services are stopped on the way out, whatever happens."""
    results: dict[str, Any] = {
        "started_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": options.command,
        "options": {
            **{name: getattr(options, name) for name in RECORDED_OPTIONS},
            "worker_settings": {
                "STREAMSCORE_BATCH_SIZE": str(options.batch_size),
                "STREAMSCORE_BATCH_TIMEOUT_MS": str(options.batch_timeout_ms),
                **latency_target(options),
                **options.worker_env,
            },
            "parts": list(options.parts),
        },
        "configurations": {},
        "errors": {},
    }
    t0 = time.monotonic()
    results["background_cores_before"] = background = cpu.background_cores()
    if background > 0.2:
        console.print(
            f"[yellow]other processes keep {background:.1f} of {os.cpu_count()} cores busy: "
            "every number of this run will be disturbed[/]",
            highlight=False,
        )
    with sigterm_as_interrupt(), contextlib.ExitStack() as exits:
        console.print("starting Kafka, Redis and Triton on free ports…", highlight=False)
        stack = exits.enter_context(running_stack(options.keep, console.print))
        starts = ", ".join(f"{k} {v:.1f}s" for k, v in stack.started_s.items())
        console.print(f"services up ({starts})", highlight=False)
        results["services_start_s"] = stack.started_s
        results["machine"] = machine.describe(stack)
        log_dir = Path(stack.config.state_dir) / "bench-logs"
        run = Run(options, stack, console, log_dir)
        exits.callback(run.reader.close)
        run.prepare()
        for key in CONFIG_KEYS:
            if key not in options.parts:
                continue
            config = CONFIGURATIONS[key]
            if not available(config):
                console.print(f"{key}: the worker has no such setting here; skipped")
                continue
            console.rule(f"{config.title}")
            began = time.monotonic()
            entry = results["configurations"].setdefault(key, {})
            try:
                run.configuration(config, entry)
            except Exception as exc:  # one configuration failing must not lose the others
                results["errors"][key] = f"{type(exc).__name__}: {exc}"
                console.print(f"[red]{key}: {exc}[/]", highlight=False)
            entry["bench_seconds"] = round(time.monotonic() - began, 1)
            console.print(f"  ({key} took {entry['bench_seconds']:.0f} s in all)", highlight=False)
        drift_parts(run, results)
        scale_part(run, results)
        if "components" in options.parts:
            console.rule(f"components alone, batch {options.batch_size}")
            o = options
            results["components"] = components.measure(
                stack, o.entities, o.batch_size, o.component_seconds, run.say
            )
    results["seconds"] = round(time.monotonic() - t0, 1)
    return results

"""One bench run: services up, events in, each configuration measured in turn, services down.

Order: raw passthrough, Faust passthrough, naive pipeline, StreamScore (each: throughput on
the pre-filled topic, then latency under paced loads on a fresh one), then the drift pairs
(the worker with drift monitoring off and on, throughput measured in interleaved runs: off,
on, on, off, off, on, …, each from the start of the pre-filled topic, then latency once each
for the librdkafka pair), then the components alone. Everything runs on this machine
against the same broker, topic layout and events. A configuration that fails is reported
with its log and the run goes on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import components, cpu, latency, load, machine, scrape, throughput
from bench.configs import CONFIGURATIONS, Configuration, available, launch, topics_for
from bench.kafka_io import TopicReader, create_topics
from bench.options import CONFIG_KEYS, DRIFT_KEYS, DRIFT_PARTS, LOAD_FRACTIONS, Options
from bench.stack import Stack, load_features, running_stack
from schemas.codec import codec_for

TEMPLATES = 50_000  # distinct events; the pre-filled topic cycles through them


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every service and child is stopped on the way out."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        if not set(o.parts) & {*CONFIG_KEYS, *DRIFT_PARTS}:
            return  # components only: no events needed
        self.templates = load.templates(o.seed, o.entities, min(o.events, TEMPLATES))
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
        result = self._throughput(config, out)
        self._said(config.key, result)
        if result.rate <= 0:
            raise RuntimeError("no rate measured; latency loads skipped")
        out["latency"] = self._latency(config, result.rate)

    def _said(self, name: str, result: throughput.Throughput, extra: str = "") -> None:
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

    # -- drift monitoring off and on ----------------------------------------------------------
    def drift_pair(self, part: str, results: dict[str, Any]) -> None:
        """The worker with drift monitoring off and on, ``drift_pairs`` times each, interleaved
        (off, on, on, off, …: neither side always runs first); the medians go in the entries.
        A run that fails (the drift sanity check included) counts as an error of its side."""
        o = self.options
        _, off_key, on_key = DRIFT_PARTS[part]
        pair = (CONFIGURATIONS[off_key], CONFIGURATIONS[on_key])
        entries: dict[str, dict[str, Any]] = {}
        for config in pair:
            entries[config.key] = results["configurations"].setdefault(config.key, {})
            entries[config.key].update(title=config.title, runs=[])
        began, order = time.monotonic(), 0
        for i in range(o.drift_pairs):
            for config in pair if i % 2 == 0 else pair[::-1]:
                order += 1
                run_out: dict[str, Any] = {"pair": i + 1, "order": order}
                entries[config.key]["runs"].append(run_out)
                try:
                    run_out["speed_probe_s"] = cpu.speed_probe()
                    result = self._throughput(config, run_out, tag=f"-{i + 1}")
                    stage = run_out.get("worker", {}).get("stages", {}).get("drift", {})
                    self._said(
                        f"{config.key} (pair {i + 1})",
                        result,
                        f"; drift counting {stage.get('ms_per_batch', 0.0):.2f} ms per batch"
                        if stage.get("seconds")
                        else "",
                    )
                except Exception as exc:
                    run_out["error"] = message = f"{type(exc).__name__}: {exc}"
                    errors = results["errors"]
                    errors[config.key] = "; ".join(filter(None, [errors.get(config.key), message]))
                    self.say(f"[red]{config.key} (pair {i + 1}): {exc}[/]")
        for config in pair:
            entry = entries[config.key]
            entry["throughput"] = _medians(entry["runs"])
            rate = entry["throughput"]["events_per_s"] if entry["throughput"] else 0.0
            if part == "drift" and rate > 0:  # latency once, at loads of the median maximum
                try:
                    entry["latency"] = self._latency(config, rate)
                except Exception as exc:
                    message = f"latency: {type(exc).__name__}: {exc}"
                    errors = results["errors"]
                    errors[config.key] = "; ".join(filter(None, [errors.get(config.key), message]))
                    self.say(f"[red]{config.key}: {message}[/]")
        off, on = (entries[c.key]["throughput"] for c in pair)
        if off and on and off["events_per_s"]:
            self.say(
                f"[bold]{part}[/]: median {on['events_per_s']:,.0f} on / "
                f"{off['events_per_s']:,.0f} off = {on['events_per_s'] / off['events_per_s']:.3f}"
            )
        for config in pair:
            entries[config.key]["bench_seconds"] = round(time.monotonic() - began, 1)

    def _roots(self, pid: int) -> Callable[[], dict[str, list[int]]]:
        return lambda: {**self.stack.service_pids(), "configuration": [pid]}

    def _throughput(
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
        out["throughput"] = {
            "events_per_s": result.rate,
            "outputs": result.span.records,
            "first_ms": result.span.first_ms,
            "last_ms": result.span.last_ms,
            "capped_by": result.capped_by,
            "window_s": result.window_s,
            "window_events": result.window_events,
            "cpu_s": result.cpu_s,
            "cpu_s_per_1k": result.cpu_per_1k,
            "cpu_s_per_1k_by_process": {
                k: 1000 * v / result.window_events if result.window_events else 0.0
                for k, v in result.cpu_s.items()
            },
            "other_outputs": result.other_outputs,
            "bench_cpu_s": result.bench_cpu_s,
            # Busy CPU of processes outside the run (another job on the machine): noise.
            "other_cpu_s": result.other_cpu_s,
            "other_cores": result.other_cpu_s / result.window_s if result.window_s else 0.0,
        }
        if before is not None and after is not None:
            wall = after["t"] - before["t"]
            out["worker"] = scrape.worker_breakdown(before["worker"], after["worker"], wall)
            out["triton"] = scrape.triton_breakdown(before["triton"], after["triton"])
        if launched.drift_enabled is not None:
            counts = scrape.drift_counts(after["worker"]) if after is not None else None
            out["drift"] = {"enabled": launched.drift_enabled, **(counts or {})}
            if counts is not None:
                _check_drift(launched.drift_enabled, counts)
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

    def _latency(self, config: Configuration, max_rate: float) -> list[dict[str, Any]]:
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
            codec_for(config.output_schema),
            self.reader.read_all(topics.events),
            codec_for("event"),
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

    # -- components ------------------------------------------------------------------------
    def components(self) -> list[dict[str, Any]]:
        o = self.options
        found = components.redis_components(
            self.stack, o.entities, o.batch_size, o.component_seconds
        ) + components.triton_components(self.stack, o.batch_size, o.component_seconds)
        for c in found:
            self.say(f"  {c.name}: {c.rows_per_s:,.0f} rows/s, {c.ms_per_batch:.2f} ms per batch")
        return [
            {"name": c.name, "batch": c.batch, "rows_per_s": c.rows_per_s,
             "ms_per_batch": c.ms_per_batch, "batches": c.batches}
            for c in found
        ]  # fmt: skip


def _check_drift(enabled: bool, counts: dict[str, float]) -> None:
    """A worker counting drift published summaries, all its events counted (the primary has
    a reference); one not counting published none. Otherwise the pair compares nothing."""
    summaries, unmonitored = counts["summaries"], counts["unmonitored"]
    if enabled and (summaries <= 0 or unmonitored > 0):
        raise RuntimeError(
            f"drift sanity check: drift on, yet {summaries:.0f} summaries published and "
            f"{unmonitored:.0f} events unmonitored (want > 0 and 0)"
        )
    if not enabled and summaries > 0:
        raise RuntimeError(
            f"drift sanity check: drift off, yet {summaries:.0f} summaries published (want 0)"
        )


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The median of each figure over the runs that succeeded, as a configuration's
    ``throughput``; None when none did."""
    good = [r["throughput"] for r in runs if "throughput" in r and "error" not in r]
    if not good:
        return None

    def median(name: str) -> float:
        return float(statistics.median(t[name] for t in good))

    return {
        "events_per_s": median("events_per_s"),
        "cpu_s_per_1k": median("cpu_s_per_1k"),
        "outputs": int(median("outputs")),
        "capped_by": "time" if any(t["capped_by"] == "time" for t in good) else "count",
        "other_cores": median("other_cores"),
        "runs": len(good),
        "median_of": [t["events_per_s"] for t in good],
    }


def run(options: Options, console: Console) -> dict[str, Any]:
    """Everything, in order; the services are stopped on the way out, whatever happens."""
    results: dict[str, Any] = {
        "started_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": options.command,
        "options": {
            "quick": options.quick,
            "events": options.events,
            "max_seconds": options.max_seconds,
            "latency_seconds": options.latency_seconds,
            "latency_events": options.latency_events,
            "component_seconds": options.component_seconds,
            "drain_seconds": options.drain_seconds,
            "entities": options.entities,
            "batch_size": options.batch_size,
            "batch_timeout_ms": options.batch_timeout_ms,
            "drift_pairs": options.drift_pairs,
            "worker_settings": {
                "STREAMSCORE_BATCH_SIZE": str(options.batch_size),
                "STREAMSCORE_BATCH_TIMEOUT_MS": str(options.batch_timeout_ms),
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
    with _sigterm_as_interrupt(), contextlib.ExitStack() as exits:
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
        for part, (_, off_key, on_key) in DRIFT_PARTS.items():
            if part not in options.parts:
                continue
            if not all(available(CONFIGURATIONS[k]) for k in (off_key, on_key)):
                console.print(f"{part}: the worker has no such setting here; skipped")
                continue
            console.rule(f"drift monitoring off and on: {part}, {options.drift_pairs} pairs")
            run.drift_pair(part, results)
        if "components" in options.parts:
            console.rule(f"components alone, batch {options.batch_size}")
            results["components"] = run.components()
    results["seconds"] = round(time.monotonic() - t0, 1)
    return results

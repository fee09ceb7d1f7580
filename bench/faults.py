"""`python -m bench.faults [--events N] [--rounds R] [--rate R] [--latency-seconds S] …`

Two costs of the librdkafka worker, each a ratio against a baseline measured in the same run,
on its own services (free ports, a temporary folder, stopped at the end):

- **exactly-once ÷ at-least-once** (``STREAMSCORE_PROCESSING_GUARANTEE``): throughput draining
  a pre-filled topic, interleaved rounds (A B, B A, …); then end-to-end latency at a fixed
  paced rate, interleaved too. Latency is taken two ways for both modes: the output's
  LogAppendTime - event_time (the main bench's way), and the wall clock at which a live
  ``isolation.level=read_committed`` consumer in this process receives the output - event_time
  (what a downstream reader sees: a transaction's outputs only once it commits).
- **1 % bad records ÷ all good**: the same drain on a topic where every 100th value is garbage,
  truncated or of an unknown schema fingerprint, in turn (tests/support/load.py:bad_value),
  against an all-good topic of the same size; the librdkafka engine, and (smaller topics) the
  Faust engine.

Throughput = (outputs + dead letters) / (last output - first output, by LogAppendTime); a run
ends when the worker's group has committed the whole input topic. Outputs are read back with
``isolation.level=read_committed``, so transaction markers and aborted tries never count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench import cpu, latency, load
from bench.configs import STREAMSCORE, STREAMSCORE_LIBRDKAFKA, Configuration, launch, topics_for
from bench.kafka_io import PARTITIONS, TopicReader, create_topics
from bench.options import Options
from bench.stack import Stack, load_features, project_codec, running_stack, time_field
from tests.support.load import BAD_KINDS, bad_value

ROOT = Path(__file__).resolve().parent.parent
ALO = STREAMSCORE_LIBRDKAFKA
EOS = Configuration(
    "eos", "librdkafka, exactly_once", "prediction",
    (("STREAMSCORE_ENGINE", "librdkafka"), ("STREAMSCORE_PROCESSING_GUARANTEE", "exactly_once")),
)  # fmt: skip


class CommittedReader(TopicReader):
    """The bench's reader, explicitly read_committed (librdkafka's default, said out loud)."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap)
        self._consumer.close()
        self._consumer = _consumer(bootstrap)


def _consumer(bootstrap: str, group: str | None = None, **extra: Any) -> Consumer:
    return Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group or f"bench-{uuid.uuid4().hex[:8]}",
         "enable.auto.commit": False, "enable.partition.eof": False,
         "isolation.level": "read_committed", **extra}
    )  # fmt: skip


class Tail:
    """A live read_committed consumer: (wall ms received, value) of every output."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.records: list[tuple[int, bytes]] = []
        self._consumer = _consumer(bootstrap, **{"fetch.wait.max.ms": 10})
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)]
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # poll returns at the first output; consume(n, t) would wait t to fill a batch.
            first = self._consumer.poll(0.05)
            if first is None:
                continue
            batch = [first, *self._consumer.consume(1000, 0)]
            now = int(time.time() * 1000)
            self.records += [(now, bytes(m.value() or b"")) for m in batch if m.error() is None]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


class Bench:
    def __init__(self, stack: Stack, options: Options, reader: TopicReader) -> None:
        self.stack, self.options, self.reader = stack, options, reader
        self.bootstrap = stack.config.kafka_bootstrap
        self.id = uuid.uuid4().hex[:6]
        self.log_dir = Path(stack.config.state_dir) / "bench-logs"
        self.templates: list[load.Template] = []
        self.n = 0

    def prefill(self, name: str, count: int, bad_every: int) -> str:
        topic = f"bench-{self.id}.{name}"
        create_topics(self.bootstrap, [topic], [])
        out, now = load.producer(self.bootstrap), load.zigzag_varint(int(time.time() * 1000))
        for i in range(count):
            t = self.templates[i % len(self.templates)]
            value = t.head + now + t.tail
            if bad_every and i % bad_every == bad_every - 1:
                value = bad_value(BAD_KINDS[(i // bad_every) % len(BAD_KINDS)], value)
            load.produce_or_wait(out, topic, t.key, value)
        if out.flush(60) != 0:
            raise RuntimeError(f"pre-filling {topic}: not every event was acknowledged")
        return topic

    def _launch(self, config: Configuration, name: str, events: str, outputs_too: bool = False):
        self.n += 1
        prefix = f"bench-{self.id}.{name}-{self.n}"
        topics = topics_for(config, prefix, events)
        create_topics(
            self.bootstrap, topics.inputs, [*([events] if outputs_too else []), *topics.outputs]
        )
        group = f"bench-{self.id}-{name}-{self.n}"
        return topics, group, launch(config, self.stack, topics, group, self.options, self.log_dir)

    def drain(self, config: Configuration, name: str, events: str, count: int) -> dict[str, Any]:
        topics, group, launched = self._launch(config, name, events)
        watch = _consumer(self.bootstrap, group)
        tps = [TopicPartition(events, p) for p in range(PARTITIONS)]
        pid = launched.child.pid
        roots = lambda: {**self.stack.service_pids(), "configuration": [pid]}  # noqa: E731
        t0, busy0, own0, before = (
            time.monotonic(),
            cpu.machine_busy(),
            cpu.own(),
            cpu.sample(roots()),
        )
        try:
            while sum(max(tp.offset, 0) for tp in watch.committed(tps, timeout=10)) < count:
                if not launched.child.alive():
                    raise RuntimeError(f"{name} exited: {launched.child.log_tail()}")
                if time.monotonic() - t0 > self.options.max_seconds:
                    raise RuntimeError(f"{name}: input not all committed in time")
                time.sleep(0.25)
            ours = sum(cpu.delta(before, cpu.sample(roots())).values()) + cpu.own() - own0
            other = max(cpu.machine_busy() - busy0 - ours, 0.0) / (time.monotonic() - t0)
        finally:
            watch.close()
            launched.child.stop()
        stamps = [t for t, _ in self.reader.read_all(topics.output)]
        dead = len(self.reader.read_all(topics.names.dlq))
        span = (max(stamps) - min(stamps)) / 1000
        rate = (len(stamps) + dead - 1) / span
        print(f"  {name:<14} {rate:10,.0f} events/s  ({len(stamps):,} outputs, {dead:,} dead "
              f"letters, {span:.2f} s; other processes {other:.2f} cores)", flush=True)  # fmt: skip
        return {"events_per_s": rate, "outputs": len(stamps), "dead_letters": dead, "span_s": span,
                "other_cores": other}  # fmt: skip

    def latency(self, config: Configuration, name: str, rate: float) -> dict[str, Any]:
        o = self.options
        prefix = f"bench-{self.id}.{name}-lat-{self.n + 1}"
        topics, _, launched = self._launch(config, f"{name}-lat", f"{prefix}.events", True)
        sender = load.PacedSender(self.bootstrap, topics.events, self.templates)
        tail = Tail(self.bootstrap, topics.output)
        pid = launched.child.pid
        try:
            loads = latency.run_loads(
                sender, self.reader, topics.output, rate, (1.0,), o.latency_seconds,
                o.latency_events, launched.child.alive,
                lambda: {**self.stack.service_pids(), "configuration": [pid]},
            )  # fmt: skip
            deadline = time.monotonic() + o.drain_seconds
            while len(tail.records) < sender._next and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            launched.child.stop()
            sender.close()
            tail.close()
        out_codec, out_time = project_codec(config.output_schema), time_field(config.output_schema)
        latency.attribute(loads, self.reader.read_all(topics.output), out_codec, [],
                          project_codec("event"), out_time, time_field("event"))  # fmt: skip
        ld = loads[0]
        seen = []
        for received_ms, value in tail.records:
            event_ms = int(out_codec.decode(value)[out_time].timestamp() * 1000)
            if ld.sent.first_ms <= event_ms <= ld.sent.last_ms:
                seen.append(received_ms - event_ms)
        result = {**ld.summary(), "received_ms": latency.percentiles(seen), "seen": len(seen)}
        a, r = result["latency_ms"], result["received_ms"]
        print(f"  {name:<14} {ld.sent.achieved:,.0f}/s: append p50 {a['p50']:.0f} p99 "
              f"{a['p99']:.0f} ms; received p50 {r['p50']:.0f} p99 {r['p99']:.0f} ms "
              f"({len(seen):,} of {ld.sent.sent:,})", flush=True)  # fmt: skip
        return result


def interleaved(rounds: int, pair: tuple[Any, Any]) -> list[Any]:
    return [c for i in range(rounds) for c in (pair if i % 2 == 0 else pair[::-1])]


def pairs(bench: Bench, runs: dict[str, list[dict[str, Any]]], a: str, b: str) -> dict[str, Any]:
    """Per-round ratio b ÷ a (events/s) and the median of the ratios."""
    ratios = [y["events_per_s"] / x["events_per_s"] for x, y in zip(runs[a], runs[b], strict=True)]
    medians = {k: statistics.median(r["events_per_s"] for r in runs[k]) for k in (a, b)}
    return {"ratios": ratios, "median_ratio": statistics.median(ratios), "medians": medians}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.faults")
    p.add_argument("--events", type=int, default=150_000, help="pre-filled topic (librdkafka)")
    p.add_argument("--faust-events", type=int, default=30_000, help="Faust's topics; 0: skip")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per throughput pair")
    p.add_argument("--rate", type=float, default=1000.0, help="paced rate of the latency runs")
    p.add_argument("--latency-seconds", type=float, default=10.0)
    p.add_argument("--latency-rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--batch-timeout-ms", type=float, default=20.0)
    args = p.parse_args(argv)
    options = Options(
        quick=False, events=args.events, max_seconds=120.0, latency_seconds=args.latency_seconds,
        latency_events=10**9, component_seconds=0.0, drain_seconds=15.0, entities=10_000,
        seed=1, batch_size=args.batch_size, batch_timeout_ms=args.batch_timeout_ms, parts=(),
        command="python -m bench.faults",
    )  # fmt: skip
    results: dict[str, Any] = {"started_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "args": vars(args)}  # fmt: skip
    results["background_cores_before"] = cpu.background_cores()
    print(f"other processes busy: {results['background_cores_before']:.2f} cores", flush=True)
    t0 = time.monotonic()
    with running_stack() as stack:
        reader = CommittedReader(stack.config.kafka_bootstrap)
        bench = Bench(stack, options, reader)
        try:
            load_features(stack, options.seed, options.entities)
            bench.templates = load.templates(options.seed, options.entities, 50_000)
            good = bench.prefill("good", args.events, 0)
            bad = bench.prefill("bad", args.events, 100)
            print(f"services up, topics pre-filled in {time.monotonic() - t0:.0f} s", flush=True)
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in ("alo", "eos", "good", "bad")}
            print("exactly-once vs at-least-once, throughput", flush=True)
            for key in interleaved(args.rounds, ("alo", "eos")):
                runs[key].append(bench.drain(ALO if key == "alo" else EOS, key, good, args.events))
            print("1 % bad records vs all good (librdkafka)", flush=True)
            for key in interleaved(args.rounds, ("good", "bad")):
                runs[key].append(bench.drain(ALO, key, good if key == "good" else bad, args.events))
            results["eos"] = pairs(bench, runs, "alo", "eos")
            results["bad"] = pairs(bench, runs, "good", "bad")
            if args.faust_events:
                print("1 % bad records vs all good (Faust)", flush=True)
                fgood = bench.prefill("fgood", args.faust_events, 0)
                fbad = bench.prefill("fbad", args.faust_events, 100)
                runs |= {"faust-good": [], "faust-bad": []}
                for key in interleaved(max(args.rounds - 1, 1), ("faust-good", "faust-bad")):
                    topic = fgood if key == "faust-good" else fbad
                    runs[key].append(bench.drain(STREAMSCORE, key, topic, args.faust_events))
                results["faust_bad"] = pairs(bench, runs, "faust-good", "faust-bad")
            results["runs"] = runs
            print(f"latency at {args.rate:,.0f} events/s", flush=True)
            lat: dict[str, list[dict[str, Any]]] = {"alo": [], "eos": []}
            for key in interleaved(args.latency_rounds, ("alo", "eos")):
                lat[key].append(bench.latency(ALO if key == "alo" else EOS, key, args.rate))
            results["latency"] = lat
        finally:
            reader.close()
    results["seconds"] = round(time.monotonic() - t0, 1)
    for part in ("eos", "bad", "faust_bad"):
        if part in results:
            r = results[part]
            print(f"{part}: per-round ratios {', '.join(f'{x:.3f}' for x in r['ratios'])}; "
                  f"median {r['median_ratio']:.3f}; medians {r['medians']}")  # fmt: skip
    out = ROOT / "bench" / "results" / f"faults-{results['started_utc'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {out.relative_to(ROOT)} ({results['seconds']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

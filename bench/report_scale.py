"""`python -m bench.report_scale [--pairs N] [--rounds R] | --micro`: the shadow report at scale.

Starts its own Kafka (free ports, a temporary folder, stopped at the end), writes N events'
primary and shadow predictions (4 partitions each) and labels for a tenth of them, then
measures, in interleaved rounds, each in a fresh child process:

- ``consume``: a plain read of the same offsets of the same three topics with the same
  reader and consumer settings, touching every value, decoding nothing: the baseline;
- ``report``: `streamscore report shadow` over the range (decode, join, labels, every figure,
  report.json and the HTML page).

It prints, per round, wall time, records/s and peak RSS of each, and the ratio report ÷
consume; the goals are peak RSS ≤ 500 MB at 10,000,000 pairs and a ratio ≤ 1.2.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Producer

from bench.load import produce_or_wait
from bench.stack import bench_project, project_codec
from infra.kafka_server import KafkaServer
from infra.settings import on_free_ports
from schemas.prediction_writer import PredictionWriter
from streams.client import ClientSettings
from streams.topics import TopicNames, TopicSpec, ensure_topics

T0 = 1_790_000_000_000
RATE = 20_000  # events per second of event time
CHUNK = 20_000


def write(bootstrap: str, topics: TopicNames, n: int, seed: int = 0) -> None:
    """n events' outputs of scorer:1 and scorer:2 (decided by the project's first model's
    decider), and labels for a tenth of them."""
    project = bench_project()
    decider, label_field = project.decider(project.default_model.name), project.spec.labels.field
    writer = PredictionWriter(project_codec("prediction", logical_types=False))
    label_codec = project_codec("label", logical_types=False)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1 << 20,
         "compression.type": "lz4", "queue.buffering.max.messages": 1_000_000}
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(size)]
        entities = [f"entity-{i % 5000}" for i in range(start, start + size)]
        times = (T0 + (np.arange(start, start + size) * 1000) // RATE).tolist()
        parts = writer.event_parts(ids, entities, times)
        primary = rng.beta(1.2, 6, size)
        shadow = np.clip(primary + rng.normal(0, 0.02, size), 0, 1)
        keys = [e.encode() for e in entities]
        for topic, model, scores in (
            (topics.predictions, "1", primary), (topics.shadow, "2", shadow),
        ):  # fmt: skip
            decisions = decider.names_of(decider.decide_scores(scores))
            timings = {"decode_ms": 0.1, "features_ms": 0.2, "infer_ms": 0.7, "publish_ms": 0.0}
            values = writer.encode(
                parts, scores.tolist(), decisions, [False] * size, "scorer", model,
                times[-1] + 30, timings,
            )  # fmt: skip
            for key, value in zip(keys, values, strict=True):
                produce_or_wait(producer, topic, key, value)
        for i in range(0, size, 10):
            outcome = int(rng.random() < primary[i])
            label = {"event_id": ids[i], "entity_id": entities[i], label_field: outcome,
                     "observed_at": times[i] + 60_000}  # fmt: skip
            produce_or_wait(producer, topics.labels, keys[i], label_codec.encode(label))
        producer.poll(0)
    assert producer.flush(120) == 0


def micro(n: int = 200_000, chunk: int = 10_000) -> dict[str, float]:
    """CPU per value of decoding (streams/report/columns.py) and joining (join.py), on
    values built in memory: no Kafka, one core."""
    from streams.report.columns import PredictionDecoder, Vocabulary
    from streams.report.join import PRIMARY, SHADOW, ShadowJoin
    from streams.report.pairs import Lookup, PairStore
    from streams.report.reading import TimeRange

    codec = project_codec("prediction", logical_types=False)
    writer, rng = PredictionWriter(codec), np.random.default_rng(0)
    project = bench_project()
    first = project.decider(project.default_model.name).names[0]
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]
    times = (T0 + np.arange(n) * 1000 // RATE).tolist()
    parts = writer.event_parts(ids, [f"entity-{i % 5000}" for i in range(n)], times)
    timings = {"decode_ms": 0.1, "features_ms": 0.2, "infer_ms": 0.7, "publish_ms": 0.0}
    values = [
        writer.encode(parts, rng.random(n).tolist(), [first] * n, [False] * n, "scorer",
                      version, T0, timings)
        for version in ("1", "2")
    ]  # fmt: skip
    decoder = PredictionDecoder(codec, Vocabulary(), Vocabulary())
    zeros = np.zeros(chunk, dtype=np.int16)
    started = time.process_time()
    decoded = [
        [decoder.decode(v[i : i + chunk], zeros) for i in range(0, n, chunk)] for v in values
    ]
    decode_s = time.process_time() - started
    codes = (decoder.models.code("scorer:1"), decoder.models.code("scorer:2"))
    empty = Lookup.build(np.empty(0, np.uint64), np.empty(0, np.int8), -1)
    join = ShadowJoin(TimeRange(T0, 2**62), codes, PairStore(T0, empty, []))
    started = time.process_time()
    for p, s in zip(*decoded, strict=True):
        join.add(PRIMARY, p, int(p.event_time.max()))
        join.add(SHADOW, s, int(s.event_time.max()))
    join.finish()
    join_s = time.process_time() - started
    assert join.coverage.joined == n
    started = time.process_time()
    for value in values[0][:20_000]:  # the baseline: one fastavro read per value
        codec.decode(value)
    fastavro_us = (time.process_time() - started) / 20_000 * 1e6
    return {
        "decode_us_per_value": decode_s / (2 * n) * 1e6,
        "join_us_per_value": join_s / (2 * n) * 1e6,
        "fastavro_decode_us_per_value": fastavro_us,
    }


def child(kind: str, bootstrap: str, prefix: str, n: int, out: Path) -> dict[str, Any]:
    """Run one measurement in this process; returns its figures."""
    from streams.report.reading import RangeReader, TimeRange

    topics = TopicNames().prefixed(prefix)
    config = ClientSettings(kafka={"bootstrap": bootstrap}, topics=topics.model_dump())
    end = T0 + (n * 1000) // RATE + 1000
    started = time.perf_counter()
    records = touched = 0
    if kind == "consume":
        for topic, window in (
            (topics.labels, TimeRange(T0, 2**62)),
            (topics.predictions, TimeRange(T0, end)),
            (topics.shadow, TimeRange(T0, end)),
        ):
            reader = RangeReader(config, topic, window, 0)
            while (chunk := reader.read()) is not None:
                touched += sum(map(len, chunk.values))  # every value read, none decoded
                records += len(chunk.values)
            reader.close()
    else:
        from streams.cli.report import write as write_outputs
        from streams.report.build import ReportRequest, build_report, thresholds_of
        from streams.report.rule import PromotionRule

        project = config.use_case()
        thresholds = thresholds_of(project.decider(project.default_model.name))
        request = ReportRequest(TimeRange(T0, end), lateness_s=0, thresholds=thresholds)
        report = build_report(config, request, PromotionRule(), lambda done, total: None)
        records = report["coverage"]["primary_records"] + report["coverage"]["shadow_records"]
        write_outputs(report, out)
        assert report["coverage"]["joined"] == n, report["coverage"]
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = usage.ru_utime + usage.ru_stime
    return {"kind": kind, "wall_s": wall, "records": records,
            "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_s": cpu_s}  # fmt: skip


def measure(kind: str, bootstrap: str, prefix: str, n: int, out: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.report_scale", "--child", kind, "--bootstrap", bootstrap,
            "--prefix", prefix, "--pairs", str(n), "--out", str(out)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_scale")
    parser.add_argument("--pairs", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["consume", "report"])
    parser.add_argument("--micro", action="store_true", help="decode and join CPU, no Kafka")
    parser.add_argument("--bootstrap")
    parser.add_argument("--prefix")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "report-scale")
    args = parser.parse_args(argv)
    if args.micro:
        print(json.dumps(micro()))
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.bootstrap, args.prefix, args.pairs, args.out)))
        return 0
    state = Path(tempfile.mkdtemp(prefix="streamscore-report-scale-"))
    kafka = KafkaServer(on_free_ports(state))
    try:
        kafka.start()
        bootstrap = kafka.config.kafka_bootstrap
        topics = TopicNames().prefixed("scale")
        ensure_topics(bootstrap, [TopicSpec(name, 4) for _, name in topics])
        t0 = time.perf_counter()
        write(bootstrap, topics, args.pairs)
        print(f"wrote {args.pairs:,} pairs in {time.perf_counter() - t0:.0f} s", flush=True)
        ratios = []
        for round_ in range(args.rounds):
            kinds = ("consume", "report") if round_ % 2 == 0 else ("report", "consume")
            pair = [measure(k, bootstrap, "scale", args.pairs, args.out) for k in kinds]
            by = {m["kind"]: m for m in pair}
            ratio = by["report"]["wall_s"] / by["consume"]["wall_s"]
            ratios.append(ratio)
            for m in pair:
                print(f"round {round_ + 1} {m['kind']:<8} {m['wall_s']:7.1f} s "
                      f"{m['records'] / m['wall_s']:>12,.0f} records/s  "
                      f"peak RSS {m['peak_rss_mb']:6.0f} MB  CPU {m['cpu_s']:5.1f} s",
                      flush=True)  # fmt: skip
            print(f"round {round_ + 1} report / consume = {ratio:.3f}", flush=True)
        print(f"median ratio {float(np.median(ratios)):.3f} over {len(ratios)} rounds")
    finally:
        kafka.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

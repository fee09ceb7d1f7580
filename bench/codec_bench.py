"""Events per second through the event codec on one core, against a JSON round trip.

The codec sits on every worker's hot path, so its cost per event bounds a worker's rate.
The events are the fraud example's (examples/fraud: its event schema, the same made-up
payments as ever). JSON runs in the same process and the same minute as the baseline: only
the ratio travels between machines. The JSON side carries event_time as an int and never
builds a datetime, which flatters it a little.

    .venv/bin/python bench/codec_bench.py [--events 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from schemas.codec import AvroCodec, WriterSchemas
from schemas.event_columns import EventColumnDecoder
from schemas.project import DEFAULT_PROJECT, Project, load_project

BATCH = 512  # a worker's micro-batch, for the two rows that decode batches into features


def event_codec(project: Project, writers: WriterSchemas, logical_types: bool = True) -> AvroCodec:
    """The codec of the project's events (single-object framing, as the worker's)."""
    return AvroCodec(project.schema("event"), writers=writers, logical_types=logical_types)


def sample_events(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    return [
        {
            "event_id": f"evt-{i:012d}",
            "entity_id": f"acct-{rng.randrange(100_000)}",
            "event_time": start + timedelta(milliseconds=i * 37),
            "amount": round(rng.lognormvariate(3.5, 1.0), 2),
            "items": rng.randrange(1, 12),
            "session_seconds": rng.uniform(0, 3600),
            "distance_km": rng.expovariate(0.05),
            "is_foreign": rng.random() < 0.07,
            "hour_of_day": rng.randrange(24),
            "device_age_days": rng.randrange(2000),
            "merchant_risk": rng.random(),
            "segment": rng.choice([None, "retail", "gaming", "travel"]),
        }
        for i in range(n)
    ]


def best_rate(work: Callable[[], object], n: int, repeats: int) -> float:
    """Events/s of the fastest repeat: the least disturbed by the rest of the machine."""
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return n / best


def pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, repeats = args.events, args.repeats
    pinned = pin_to_one_core()

    project = load_project(DEFAULT_PROJECT)  # the fraud example: sample_events' schema
    events = sample_events(n)
    writers = WriterSchemas.bundled()
    writers.add(project.schema("event"))
    codec = event_codec(project, writers)
    values = [codec.encode(e) for e in events]
    v2 = json.loads(json.dumps(project.schema("event")))
    v2["fields"].append({"name": "channel", "type": "string", "default": "web"})
    writers.add(v2)
    newer = AvroCodec(v2, writers=writers)  # reads v1 values by schema resolution
    json_events = [dict(e, event_time=int(e["event_time"].timestamp() * 1000)) for e in events]
    json_values = [json.dumps(e).encode() for e in json_events]

    # The worker's decode: epoch-ms ints, then the float32 matrix of the event fields the
    # model reads, a batch at a time.
    primitive = event_codec(project, writers, logical_types=False)
    spec, numbers = project.spec.events, project.layout.number_fields
    columns = EventColumnDecoder(primitive, id=spec.id, entity=spec.entity, time=spec.time,
                                 numbers=numbers, text=project.layout.text_fields)  # fmt: skip
    batches = [values[i : i + BATCH] for i in range(0, n, BATCH)]

    def records_then_matrix() -> None:
        for batch in batches:
            records, _ = primitive.decode_many(batch)
            np.asarray([[r[f] for f in numbers] for r in records], dtype=np.float32)

    def columns_then_matrix() -> None:
        for batch in batches:
            found = columns.decode(batch)[0].fields.numbers
            np.column_stack([found[f] for f in numbers]).astype(np.float32)

    encode, decode = codec.encode, codec.decode
    rows = [
        (
            "avro single-object (codec)",
            best_rate(lambda: [encode(e) for e in events], n, repeats),
            best_rate(lambda: [decode(v) for v in values], n, repeats),
        ),
        (
            "avro decode_many (batch)",
            None,
            best_rate(lambda: codec.decode_many(values), n, repeats),
        ),
        (
            f"decode_many + matrix, {BATCH}s",
            None,
            best_rate(records_then_matrix, n, repeats),
        ),
        (
            f"event columns, {BATCH}s",
            None,
            best_rate(columns_then_matrix, n, repeats),
        ),
        (
            "avro v1 -> v2 resolution",
            None,
            best_rate(lambda: newer.decode_many(values), n, repeats),
        ),
        (
            "json dumps/loads baseline",
            best_rate(lambda: [json.dumps(e).encode() for e in json_events], n, repeats),
            best_rate(lambda: [json.loads(v) for v in json_values], n, repeats),
        ),
    ]

    json_rt = 1 / rows[-1][1] + 1 / rows[-1][2]
    print(f"event codec, {n} events, best of {repeats}, {pinned}, Python {sys.version.split()[0]}")
    avro_size, json_size = sum(map(len, values)) / n, sum(map(len, json_values)) / n
    print(f"avro value {avro_size:.0f} B/event, json {json_size:.0f} B/event")
    print(f"{'path':<28} {'encode ev/s':>12} {'decode ev/s':>12} {'round trip':>11} {'vs json':>8}")
    for label, enc, dec in rows:
        enc_text = f"{enc:12,.0f}" if enc else f"{'-':>12}"
        if enc:
            rt = 1 / enc + 1 / dec
            tail = f"{rt * 1e6:9.2f}us {json_rt / rt:7.2f}x"
        else:
            tail = f"{'-':>11} {'-':>8}"
        print(f"{label:<28} {enc_text} {dec:12,.0f} {tail}")


if __name__ == "__main__":
    main()

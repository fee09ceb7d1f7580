"""What a canary costs the pipeline per event, against the same pipeline without one.

The pipeline's own CPU (decode, features, split, encode, drift counting) on 512-event
batches over in-process fake models and store (tests/support/fakes.py), so that the figure is
the worker's code alone: primary + one shadow, then the same with a 20 % canary. Both run in
the same process and minute; the ratio is what travels between machines.

    .venv/bin/python -m bench.canary_cost [--percent 20] [--batches 100] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from streams.routing.state import RoutedModels
from streams.worker.pipeline import ScoringPipeline
from tests.support.fakes import (
    FakeFeatureStore,
    FixedModel,
    StaticRoutes,
    build_pipeline,
    event_records,
    to_messages,
)

BATCH = 512


def pipeline(percent: float | None) -> ScoringPipeline:
    primary, shadow = FixedModel("scorer", "1"), FixedModel("challenger", "1")
    routes = StaticRoutes(primary, shadow)
    if percent is not None:
        routes._models = RoutedModels(primary, (shadow,), FixedModel("scorer", "2"), percent)
    return build_pipeline(FakeFeatureStore(), routes)


async def cpu_us_per_event(pipe: ScoringPipeline, batches: int, repeats: int) -> float:
    """Best of ``repeats`` runs of ``batches`` batches: process CPU per event, in µs."""
    messages = to_messages(event_records(BATCH, entities=[f"acct-{i}" for i in range(2000)]))
    for _ in range(20):
        await pipe.process(messages)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(batches):
            await pipe.process(messages)
        best = min(best, (time.process_time() - t0) / (batches * BATCH) * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--percent", type=float, default=20.0)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    without = asyncio.run(cpu_us_per_event(pipeline(None), args.batches, args.repeats))
    with_canary = asyncio.run(cpu_us_per_event(pipeline(args.percent), args.batches, args.repeats))
    print(f"no canary:           {without:.2f} µs/event")
    print(f"{args.percent:g} % canary:        {with_canary:.2f} µs/event")
    print(f"ratio canary / none: {with_canary / without:.2f}")


if __name__ == "__main__":
    main()

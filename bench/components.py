"""The pipeline's two I/O steps alone, at its batch size, on the bench's Redis and Triton.

- feature reads: redis-py pipelined ``HMGET`` of hashes of one field per feature (8 for the
  fraud example) against ONE ``MGET`` of packed float32 vectors (the worker's layout), each
  turned into the (n, features) float32 matrix the model needs, since that conversion is
  part of the price;
- model calls: tritonclient gRPC, one request per batch of rows, in a loop; and the same
  with one row per request, the naive pipeline's pattern.

Each runs for a fixed time on random entities and reports rows/s and ms per batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import tritonclient.grpc as grpcclient

from bench.stack import HASH_PREFIX, Stack, bench_project
from inference.contract import tensors_of
from streams.features.store import VectorLayout
from streams.simulation.simulator import entity_ids


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    batch: int
    rows_per_s: float
    ms_per_batch: float
    batches: int


def _loop(name: str, batch: int, seconds: float, once: Callable[[int], object]) -> Component:
    once(0)  # connect, warm
    n, t0 = 0, time.perf_counter()
    while True:
        once(n)
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
    return Component(name, batch, n * batch / elapsed, 1e3 * elapsed / n, n)


def redis_components(stack: Stack, entities: int, batch: int, seconds: float) -> list[Component]:
    project = bench_project()
    layout = VectorLayout.of(project)
    client = stack.redis_client()
    rng = np.random.default_rng(7)
    ids = entity_ids(project, entities)
    draws = [[ids[i] for i in rng.integers(0, entities, batch)] for _ in range(64)]
    fields = list(project.feature_names)

    def hmget(n: int) -> np.ndarray:
        pipe = client.pipeline(transaction=False)
        for entity in draws[n % len(draws)]:
            pipe.hmget(HASH_PREFIX + entity, fields)
        rows = pipe.execute()
        return np.array(
            [[float(v) if v is not None else np.nan for v in row] for row in rows],
            dtype=np.float32,
        )

    def mget(n: int) -> np.ndarray:
        raw = client.mget([layout.key(e) for e in draws[n % len(draws)]])
        return layout.unpack_many(cast(list[bytes | None], raw)).values

    try:
        return [
            _loop(f"Redis pipelined HMGET, {len(fields)}-field hashes", batch, seconds, hmget),
            _loop("Redis one MGET, packed float32 vectors", batch, seconds, mget),
        ]
    finally:
        client.close()


def triton_components(stack: Stack, batch: int, seconds: float) -> list[Component]:
    client = grpcclient.InferenceServerClient(stack.config.triton_grpc_url)
    rng = np.random.default_rng(8)
    model, version = stack.primary.name, stack.primary.version
    tensors = tensors_of(bench_project(), model)
    outputs = [grpcclient.InferRequestedOutput(tensors.output)]

    def calls(rows: int) -> Callable[[int], object]:
        x = rng.random((rows, tensors.width), dtype=np.float32)

        def once(n: int) -> object:
            tensor = grpcclient.InferInput(tensors.input, [rows, tensors.width], "FP32")
            tensor.set_data_from_numpy(x)
            result = client.infer(model, [tensor], model_version=version, outputs=outputs)
            return result.as_numpy(tensors.output)

        return once

    try:
        return [
            _loop(f"Triton gRPC, {batch} rows per request", batch, seconds, calls(batch)),
            _loop("Triton gRPC, 1 row per request", 1, seconds, calls(1)),
        ]
    finally:
        client.close()


def measure(
    stack: Stack, entities: int, batch: int, seconds: float, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Every component alone, each said as it is measured, as the results record them."""
    found = redis_components(stack, entities, batch, seconds)
    found += triton_components(stack, batch, seconds)
    for c in found:
        say(f"  {c.name}: {c.rows_per_s:,.0f} rows/s, {c.ms_per_batch:.2f} ms per batch")
    return [
        {"name": c.name, "batch": c.batch, "rows_per_s": c.rows_per_s,
         "ms_per_batch": c.ms_per_batch, "batches": c.batches}
        for c in found
    ]  # fmt: skip

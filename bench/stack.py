"""Kafka, Redis and Triton for one bench run: free ports, a temporary state folder, the
same launchers as `streamscore up` (and tests/conftest.py), stopped whatever happens.

Triton serves two models from the bench's own model repository: the starter ``scorer``
(primary) and a ``challenger`` trained on other data (the shadow), both exported before the
server starts, so both load at start. Redis holds the simulator's entity features as packed
vectors (what the worker reads), the same values as 8-field hashes (for the component
bench), and the routing value naming primary and shadow.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from infra.kafka_server import KafkaServer
from infra.redis_server import RedisServer
from infra.settings import ServicesSettings, on_free_ports
from infra.triton_server import TritonServer
from schemas.features import ENTITY_FEATURE_NAMES
from streams.features.store import load_sync
from streams.routing import ModelRef, Routing, state
from streams.simulation.simulator import entity_feature_rows

CHALLENGER = "challenger"
HASH_PREFIX = "bench:hash:"


@dataclass(slots=True)
class Stack:
    config: ServicesSettings
    kafka: KafkaServer
    redis_server: RedisServer
    triton: TritonServer
    primary: ModelRef
    shadow: ModelRef
    started_s: dict[str, float] = field(default_factory=dict)

    def service_pids(self) -> dict[str, list[int]]:
        """Root pid of each service (its children are found by bench/cpu.py)."""
        out: dict[str, list[int]] = {}
        for name, server in (
            ("kafka", self.kafka),
            ("redis", self.redis_server),
            ("triton", self.triton),
        ):
            pid = server.process.pid()
            out[name] = [pid] if pid is not None else []
        return out

    def redis_client(self) -> redis.Redis:
        return redis.Redis(host=self.config.host, port=self.config.redis_port)

    @property
    def redis_url(self) -> str:
        return self.config.redis_url


def _export_challenger(repository: Path) -> ModelRef:
    from inference.repository import ModelRepository
    from inference.synthetic import labelled_dataset
    from inference.training import TrainConfig, train_and_export

    repo = ModelRepository(repository)
    if not repo.versions(CHALLENGER):
        x, y = labelled_dataset(seed=11, n=5_000)
        train_and_export(repo, CHALLENGER, x, y, TrainConfig(epochs=2, seed=11))
    return ModelRef(CHALLENGER, str(repo.versions(CHALLENGER)[-1]))


def load_features(stack: Stack, seed: int, entities: int) -> int:
    """Packed vectors (the worker's layout) and 8-field hashes (the component bench's)."""
    rows = [
        (e, [v[n] for n in ENTITY_FEATURE_NAMES]) for e, v in entity_feature_rows(seed, entities)
    ]
    client = stack.redis_client()
    try:
        written = load_sync(client, rows)
        pipe = client.pipeline(transaction=False)
        for entity, values in rows:
            pipe.hset(
                HASH_PREFIX + entity, mapping=dict(zip(ENTITY_FEATURE_NAMES, values, strict=True))
            )
            if len(pipe) >= 2000:
                pipe.execute()
        pipe.execute()
        state.write_sync(client, Routing(stack.primary, (stack.shadow,)))
    finally:
        client.close()
    return written


@contextlib.contextmanager
def running_stack(keep: bool = False, say: Callable[[str], None] = print) -> Iterator[Stack]:
    """Start the three services; stop them and delete their folder on the way out, unless
    ``keep`` (then their folder and ports are printed, for `streamscore down`)."""
    state = Path(tempfile.mkdtemp(prefix="streamscore-bench-"))
    config = on_free_ports(state)
    kafka, redis_server, triton = KafkaServer(config), RedisServer(config), TritonServer(config)
    try:
        from inference.repository import DEFAULT_MODEL, ensure_default_model

        times: dict[str, float] = {}
        t0 = time.monotonic()
        primary = ModelRef(DEFAULT_MODEL, str(ensure_default_model(config.model_repository)))
        shadow = _export_challenger(config.model_repository)
        times["models"] = time.monotonic() - t0
        for server in (kafka, redis_server, triton):
            t0 = time.monotonic()
            server.start()
            times[server.name] = time.monotonic() - t0
        yield Stack(config, kafka, redis_server, triton, primary, shadow, times)
    finally:
        if keep:
            say(f"services kept running; state in {state}; stop them with:")
            say(f"  STREAMSCORE_STATE_DIR={state} .venv/bin/streamscore down")
        else:
            # Every one, started or half-started (Ctrl-C during a start): stop() is idempotent.
            for server in (triton, redis_server, kafka):
                server.stop()
            shutil.rmtree(state, ignore_errors=True)

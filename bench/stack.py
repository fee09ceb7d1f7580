"""Kafka, Redis and Triton for one bench run: free ports, a temporary state folder, the
same launchers as `streamscore up` (and tests/conftest.py), stopped whatever happens.

Every bench runs the project of ``STREAMSCORE_PROJECT``, by default the bundled fraud
example (examples/fraud): its events, its feature view, its models and its routing key.
Triton serves two models from the bench's own model repository: the project's first model
(the primary: its starter version, made as `streamscore up` makes it) and a ``challenger``
trained by the project's trainer on other simulated events (the shadow), both exported
before the server starts, so both load at start. Redis holds the simulator's entity
features as packed vectors (what the worker reads), the same values as hashes of one field
per feature (for the component bench), and the project's routing value naming primary and
shadow.
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
from schemas.codec import AvroCodec
from schemas.project import Project, load_project
from streams.client import ClientSettings
from streams.features.store import VectorLayout, load_sync
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


def bench_project() -> Project:
    """The project every bench runs: ``STREAMSCORE_PROJECT``'s, else the fraud example (the
    workers the bench starts read the same variable)."""
    return load_project()


def project_codec(schema: str, logical_types: bool = True) -> AvroCodec:
    """The codec of a bundled schema (``prediction``) or of the project's (``event``,
    ``label``), framed and reading writers as the workers do."""
    return ClientSettings().codec(schema, logical_types=logical_types)


def time_field(schema: str) -> str:
    """The field of a ``schema`` record (``event``, ``prediction``) that holds the event's
    time: a prediction's ``event_time``, the project's time field in an event."""
    return "event_time" if schema == "prediction" else bench_project().spec.events.time


def _export_models(repository: Path, project: Project) -> tuple[ModelRef, ModelRef]:
    """The primary's starter version (what `streamscore up` puts in the repository) and a
    challenger trained by the project's trainer on other simulated events (seed 11, 5,000
    of them)."""
    from inference.repository import ModelRepository
    from streams.simulation.starter import prepare, train_version

    repo = ModelRepository(repository)
    prepare(project, repo)
    if not repo.versions(CHALLENGER):
        train_version(project, repo, CHALLENGER, seed=11, rows=5_000,
                      generator="bench challenger")  # fmt: skip
    name = project.default_model.name
    return (
        ModelRef(name, str(repo.versions(name)[-1])),
        ModelRef(CHALLENGER, str(repo.versions(CHALLENGER)[-1])),
    )


def load_features(stack: Stack, seed: int, entities: int) -> int:
    """Packed vectors (the worker's layout) and hashes of one field per feature (the
    component bench's); the project's routing value naming primary and shadow."""
    project = bench_project()
    names = project.feature_names
    rows = [(e, [v[n] for n in names]) for e, v in entity_feature_rows(project, seed, entities)]
    client = stack.redis_client()
    try:
        written = load_sync(client, VectorLayout.of(project), rows)
        pipe = client.pipeline(transaction=False)
        for entity, values in rows:
            pipe.hset(HASH_PREFIX + entity, mapping=dict(zip(names, values, strict=True)))
            if len(pipe) >= 2000:
                pipe.execute()
        pipe.execute()
        key = state.routing_key(project.name)
        state.write_sync(client, key, Routing(stack.primary, (stack.shadow,)))
    finally:
        client.close()
    return written


@contextlib.contextmanager
def running_stack(keep: bool = False, say: Callable[[str], None] = print) -> Iterator[Stack]:
    """Start the three services; stop them and delete their folder on the way out, unless
    ``keep`` (then their folder and ports are printed, for `streamscore down`)."""
    from streams.simulation.starter import preparer

    project = bench_project()  # a project that does not load stops the run before any start
    state = Path(tempfile.mkdtemp(prefix="streamscore-bench-"))
    config = on_free_ports(state)
    kafka, redis_server = KafkaServer(config), RedisServer(config)
    # The hook `streamscore up` gives Triton; the versions are there already (timed apart).
    triton = TritonServer(config, prepare=preparer(project))
    try:
        times: dict[str, float] = {}
        t0 = time.monotonic()
        primary, shadow = _export_models(config.model_repository, project)
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

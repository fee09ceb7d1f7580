"""Session-scoped fixtures that start the REAL Kafka, Redis and Triton on free ports.

They use the same launchers as `streamscore up` (infra/), in a temporary state folder, and
stop them when the session ends. A test asks only for the services it needs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.kafka_server import KafkaServer
from infra.process import free_port
from infra.redis_server import RedisServer
from infra.settings import ServicesConfig, on_free_ports
from infra.triton_server import TritonServer
from streams.topics import TopicNames


@pytest.fixture(scope="session")
def services_config(tmp_path_factory: pytest.TempPathFactory) -> ServicesConfig:
    state: Path = tmp_path_factory.mktemp("services")
    return on_free_ports(state)


@pytest.fixture(scope="session")
def kafka(services_config: ServicesConfig) -> Iterator[KafkaServer]:
    server = KafkaServer(services_config)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(services_config: ServicesConfig) -> Iterator[RedisServer]:
    server = RedisServer(services_config)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def triton(services_config: ServicesConfig) -> Iterator[TritonServer]:
    server = TritonServer(services_config)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(kafka: KafkaServer, redis_server: RedisServer, triton: TritonServer) -> ServicesConfig:
    """All three services up."""
    return kafka.config


_SERVICE_FIXTURES = {"kafka", "redis_server", "triton", "stack"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses a real service is an integration test (`-m "not integration"`)."""
    for item in items:
        if _SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@dataclass
class WorkerProcess:
    """A real `streamscore worker` subprocess and the settings it was started with."""

    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics") as page:
            return str(page.read().decode())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def start_worker(stack: ServicesConfig, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `streamscore worker` processes against the test services; stopped at test end.

    Each test gets its own topics and consumer group (prefix from the test's tmp folder),
    so tests never see each other's events.
    """
    started: list[WorkerProcess] = []
    prefix = f"t{uuid.uuid4().hex[:8]}"

    def start(redis_port: int | None = None, **settings: str) -> WorkerProcess:
        metrics_port = free_port()
        env = dict(os.environ)
        env.update(
            {
                "STREAMSCORE_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
                "STREAMSCORE_REDIS_URL": f"redis://{stack.host}:{redis_port or stack.redis_port}/0",
                "STREAMSCORE_TRITON_GRPC_URL": stack.triton_grpc_url,
                "STREAMSCORE_APP_ID": f"{prefix}-scorer",
                "STREAMSCORE_METRICS_PORT": str(metrics_port),
                "STREAMSCORE_BATCH_TIMEOUT_MS": "20",
                "STREAMSCORE_ROUTING_REFRESH_S": "0.2",
                "STREAMSCORE_COMMIT_INTERVAL_S": "0.2",
            }
        )
        env.update(worker_topic_env(prefix))
        env.update({f"STREAMSCORE_{k.upper()}": v for k, v in settings.items()})
        log = tmp_path / f"worker-{len(started)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(env, proc, log, metrics_port)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def worker_topic_env(prefix: str) -> dict[str, str]:
    names = TopicNames()
    return {
        f"STREAMSCORE_TOPIC_{field.upper()}": f"{prefix}.{getattr(names, field)}"
        for field in ("events", "dlq", "predictions", "shadow", "labels", "features")
    }

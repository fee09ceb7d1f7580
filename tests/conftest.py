"""Session-scoped fixtures that start the REAL Kafka, Redis and Triton on free ports.

They use the same launchers as `streamscore up` (infra/), in a temporary state folder, and
stop them when the session ends. A test asks only for the services it needs. Helpers that
read and write the real services live in tests/support/; fakes for unit tests there too.
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
from typing import Any, TypeVar

import pytest

from infra.config import ENV_PREFIX, child_environment, merge_sections
from infra.kafka_server import KafkaServer
from infra.process import free_port
from infra.redis_server import RedisServer
from infra.service import LocalService
from infra.settings import ServicesSettings, on_free_ports
from infra.triton_server import TritonServer
from streams.topics import TopicNames
from streams.worker.settings import WorkerSettings, on_services


def pytest_configure(config: pytest.Config) -> None:
    """Tests set every setting they depend on: a STREAMSCORE_* variable of the developer's
    shell (or of `streamscore up` in it) must not leak into them."""
    for name in [n for n in os.environ if n.upper().startswith(ENV_PREFIX)]:
        del os.environ[name]


@pytest.fixture(scope="session")
def services_config(tmp_path_factory: pytest.TempPathFactory) -> ServicesSettings:
    state: Path = tmp_path_factory.mktemp("services")
    return on_free_ports(state)


Server = TypeVar("Server", bound=LocalService)


def _running(server: Server) -> Iterator[Server]:
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka(services_config: ServicesSettings) -> Iterator[KafkaServer]:
    yield from _running(KafkaServer(services_config))


@pytest.fixture(scope="session")
def redis_server(services_config: ServicesSettings) -> Iterator[RedisServer]:
    yield from _running(RedisServer(services_config))


@pytest.fixture(scope="session")
def triton(services_config: ServicesSettings) -> Iterator[TritonServer]:
    yield from _running(TritonServer(services_config))


@pytest.fixture(scope="session")
def stack(kafka: KafkaServer, redis_server: RedisServer, triton: TritonServer) -> ServicesSettings:
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

    settings: WorkerSettings
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def topics(self) -> TopicNames:
        return self.settings.topics

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.settings.metrics_port}/metrics"
        with urllib.request.urlopen(url) as page:
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
def start_worker(stack: ServicesSettings, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `streamscore worker` processes against the test services; stopped at test end.

    Each test gets its own topics and consumer group (a random prefix), so tests never see
    each other's events. ``settings`` are WorkerSettings fields, sections as dicts:
    ``start_worker(engine="librdkafka", triton={"timeout_s": 0.5})``.
    """
    started: list[WorkerProcess] = []
    prefix = f"t{uuid.uuid4().hex[:8]}"

    def start(**settings: Any) -> WorkerProcess:
        defaults: dict[str, Any] = {
            "app_id": f"{prefix}-scorer",
            "topics": TopicNames().prefixed(prefix),
            "batch": {"timeout_ms": 20},
            "routing": {"refresh_s": 0.2},
            "commit_interval_s": 0.2,
            "metrics_port": free_port(),
        }
        worker_settings = on_services(stack, **merge_sections(defaults, settings))
        log = tmp_path / f"worker-{len(started)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"],
                env=child_environment(worker_settings),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(worker_settings, proc, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()

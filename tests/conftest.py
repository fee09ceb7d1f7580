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

from drift.settings import DriftAgentSettings
from drift.settings import on_services as agent_on_services
from infra.config import ENV_PREFIX, Settings, child_environment, merge_sections
from infra.kafka_server import KafkaServer
from infra.process import free_port
from infra.redis_server import RedisServer
from infra.service import LocalService
from infra.settings import ServicesSettings, on_free_ports
from infra.triton_server import TritonServer
from streams.retraining.settings import on_services as retrainer_on_services
from streams.topics import TopicNames
from streams.worker.settings import WorkerSettings, on_services


def pytest_configure(config: pytest.Config) -> None:
    """Tests set every setting they depend on: a STREAMSCORE_* variable of the developer's
    shell (or of `streamscore up` in it) must not leak into them."""
    for name in [n for n in os.environ if n.upper().startswith(ENV_PREFIX)]:
        del os.environ[name]


@pytest.fixture(autouse=True)
def _own_environment() -> Iterator[None]:
    """A test leaves no ``STREAMSCORE_*`` behind: `--project` sets STREAMSCORE_PROJECT in
    the process it runs in (for the children it starts), and a CliRunner invocation runs in
    the test process."""
    before = {k: v for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX)}
    yield
    for name in [n for n in os.environ if n.upper().startswith(ENV_PREFIX)]:
        if name not in before:
            del os.environ[name]
    os.environ.update(before)


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
    """Triton over a repository holding the fraud example's starter (as `streamscore up`
    makes it)."""
    from streams.simulation.starter import preparer
    from tests.support.projects import FRAUD

    yield from _running(TritonServer(services_config, preparer(FRAUD)))


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
class Child:
    """A real `streamscore` subprocess (a worker, the drift agent) and its settings."""

    settings: Any
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    @property
    def topics(self) -> TopicNames:
        return self.settings.topics  # type: ignore[no-any-return]

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
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

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        self.proc.kill()
        self.proc.wait()


class Children:
    """The `streamscore` subprocesses a test started, each logging to a file of its own;
    all stopped when the test ends (the ``children`` fixture)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Child] = []

    def start(self, kind: str, settings: Settings, args: list[str], metrics_port: int) -> Child:
        index = sum(1 for c in self.started if c.log.name.startswith(f"{kind}-"))
        log = self.logs / f"{kind}-{index}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", *args, "--loglevel", "info"],
                env=child_environment(settings),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        child = Child(settings, proc, log, metrics_port)
        self.started.append(child)
        return child

    def stop(self) -> None:
        for child in self.started:
            child.stop()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    started = Children(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A test's own topics and consumer groups: its workers and agents share them."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def start_agent(
    stack: ServicesSettings, children: Children, topic_prefix: str
) -> Callable[..., Child]:
    """Start `streamscore drift agent` processes on the test's topics; stopped at test end.
    ``settings`` are DriftAgentSettings fields, sections as dicts. The topics must exist."""

    def start(**settings: Any) -> Child:
        defaults: dict[str, Any] = {
            "agent": {
                "app_id": f"{topic_prefix}-drift",
                "metrics_port": free_port(),
                "status_every_s": 0.5,
            },
            "topics": TopicNames().prefixed(topic_prefix),
        }
        config: DriftAgentSettings = agent_on_services(stack, **merge_sections(defaults, settings))
        return children.start("agent", config, ["drift", "agent"], config.agent.metrics_port)

    return start


@pytest.fixture
def start_retrainer(
    stack: ServicesSettings, children: Children, topic_prefix: str
) -> Callable[..., Child]:
    """Start `streamscore retrain worker` processes on the test's topics; stopped at test end.
    ``settings`` are RetrainingSettings fields, sections as dicts; its /metrics is on a free
    port (``Child.metrics()``)."""

    def start(**settings: Any) -> Child:
        defaults: dict[str, Any] = {
            "training": {"app_id": f"{topic_prefix}-retrainer", "metrics_port": free_port()},
            "topics": TopicNames().prefixed(topic_prefix),
        }
        config = retrainer_on_services(stack, **merge_sections(defaults, settings))
        port = config.training.metrics_port
        return children.start("retrainer", config, ["retrain", "worker"], port)

    return start


@pytest.fixture
def start_worker(
    stack: ServicesSettings, children: Children, topic_prefix: str
) -> Callable[..., Child]:
    """Start `streamscore worker` processes against the test services; stopped at test end.

    Each test gets its own topics and consumer group (a random prefix), so tests never see
    each other's events. ``settings`` are WorkerSettings fields, sections as dicts:
    ``start_worker(engine="librdkafka", triton={"timeout_s": 0.5})``.
    """
    prefix = topic_prefix

    def start(**settings: Any) -> Child:
        defaults: dict[str, Any] = {
            "app_id": f"{prefix}-scorer",
            "topics": TopicNames().prefixed(prefix),
            "batch": {"timeout_ms": 20},
            "routing": {"refresh_s": 0.2},
            "commit_interval_s": 0.2,
            "metrics_port": free_port(),
        }
        config: WorkerSettings = on_services(stack, **merge_sections(defaults, settings))
        return children.start("worker", config, ["worker"], config.metrics_port)

    return start

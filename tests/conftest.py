"""Session-scoped fixtures that start the REAL Kafka, Redis and Triton on free ports.

They use the same launchers as `streamscore up` (infra/), in a temporary state folder, and
stop them when the session ends. A test asks only for the services it needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.kafka_server import KafkaServer
from infra.process import free_port
from infra.redis_server import RedisServer
from infra.settings import ServicesConfig, ServicesSettings
from infra.triton_server import TritonServer


@pytest.fixture(scope="session")
def services_config(tmp_path_factory: pytest.TempPathFactory) -> ServicesConfig:
    state: Path = tmp_path_factory.mktemp("services")
    return ServicesSettings(
        host="127.0.0.1",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        redis_port=free_port(),
        triton_http_port=free_port(),
        triton_grpc_port=free_port(),
        triton_metrics_port=free_port(),
        state_dir=state,
        start_timeout_s=120,
    ).to_config()


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

"""Settings of the local services: where Kafka, Redis and Triton listen and keep their files.

Read once from the environment (prefix ``STREAMSCORE_``) by the CLI and turned into the frozen
:class:`ServicesConfig` that the launchers take; the launchers never read the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_KAFKA_VERSION = "4.1.1"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "streamscore"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamscore"


@dataclass(frozen=True, slots=True)
class ServicesConfig:
    """Plain, frozen view of :class:`ServicesSettings` handed to the launchers."""

    host: str
    kafka_port: int
    kafka_controller_port: int
    kafka_version: str
    redis_port: int
    triton_http_port: int
    triton_grpc_port: int
    triton_metrics_port: int
    state_dir: Path
    cache_dir: Path
    model_repository: Path
    start_timeout_s: float

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    @property
    def triton_grpc_url(self) -> str:
        return f"{self.host}:{self.triton_grpc_port}"


class ServicesSettings(BaseSettings):
    """Where the local Kafka, Redis and Triton run. Every field is overridable by
    ``STREAMSCORE_<FIELD>`` in the environment and by the matching ``streamscore up`` option."""

    model_config = SettingsConfigDict(env_prefix="STREAMSCORE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the services bind to and are reached at.")
    kafka_port: int = Field(9092, description="Kafka broker listener port (PLAINTEXT).")
    kafka_controller_port: int = Field(9093, description="KRaft controller listener port.")
    kafka_version: str = Field(
        DEFAULT_KAFKA_VERSION,
        description="Apache Kafka version whose jars are resolved from Maven.",
    )
    redis_port: int = Field(6379, description="Redis port.")
    triton_http_port: int = Field(8000, description="Triton HTTP/REST port.")
    triton_grpc_port: int = Field(8001, description="Triton gRPC port.")
    triton_metrics_port: int = Field(8002, description="Triton Prometheus metrics port.")
    state_dir: Path = Field(
        default_factory=_default_state_dir,
        description="Data, logs and pid files of the running services.",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Downloads kept across runs (the Kafka jars).",
    )
    model_repository: Path | None = Field(
        None, description="Triton model repository; defaults to <state_dir>/model_repository."
    )
    start_timeout_s: float = Field(90.0, description="How long `up` waits for each service.")

    def to_config(self) -> ServicesConfig:
        state = self.state_dir.expanduser().resolve()
        return ServicesConfig(
            host=self.host,
            kafka_port=self.kafka_port,
            kafka_controller_port=self.kafka_controller_port,
            kafka_version=self.kafka_version,
            redis_port=self.redis_port,
            triton_http_port=self.triton_http_port,
            triton_grpc_port=self.triton_grpc_port,
            triton_metrics_port=self.triton_metrics_port,
            state_dir=state,
            cache_dir=self.cache_dir.expanduser().resolve(),
            model_repository=(self.model_repository or state / "model_repository").resolve(),
            start_timeout_s=self.start_timeout_s,
        )


def on_free_ports(state_dir: Path, start_timeout_s: float = 120.0) -> ServicesConfig:
    """A private set of services beside any others on this host (tests, benchmarks)."""
    from infra.process import free_port

    return ServicesSettings(
        host="127.0.0.1",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        redis_port=free_port(),
        triton_http_port=free_port(),
        triton_grpc_port=free_port(),
        triton_metrics_port=free_port(),
        state_dir=state_dir,
        start_timeout_s=start_timeout_s,
    ).to_config()

"""Settings of the local services: where Kafka, Redis and Triton listen and keep their files.

Read once from the environment (prefix ``STREAMSCORE_``) by the CLI, frozen, and handed to
the launchers as they are; the launchers never read the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from infra.config import Settings

DEFAULT_KAFKA_VERSION = "4.1.1"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "streamscore"


def default_model_repository() -> Path:
    """Where `streamscore up` keeps the model repository unless told otherwise: the
    deployables that read it (workers, the drift agent, the retraining worker) default to
    the same folder, following ``STREAMSCORE_STATE_DIR`` as the services do."""
    state = os.environ.get("STREAMSCORE_STATE_DIR")
    return (Path(state) if state else _default_state_dir()) / "model_repository"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamscore"


class ServicesSettings(Settings):
    """Where the local Kafka, Redis and Triton run. Every field is overridable by
    ``STREAMSCORE_<FIELD>`` in the environment and by the matching ``streamscore up`` option."""

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
    # Required in form only: the validator below fills it in from state_dir when not given.
    model_repository: Path = Field(
        description="Triton model repository; defaults to <state_dir>/model_repository."
    )
    start_timeout_s: float = Field(90.0, description="How long `up` waits for each service.")

    @field_validator("state_dir", "cache_dir", "model_repository")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.expanduser().resolve()

    @model_validator(mode="before")
    @classmethod
    def _repository_in_state(cls, data: Any) -> Any:
        # The repository follows the state folder unless it is given: fill it in before
        # validation, since a frozen model cannot be changed afterwards.
        if isinstance(data, dict) and data.get("model_repository") is None:
            state = data.get("state_dir") or _default_state_dir()
            data = {**data, "model_repository": Path(state) / "model_repository"}
        return data

    def addresses(self, deployable: type[BaseModel]) -> dict[str, Any]:
        """Where these services are, as keyword arguments of ``deployable``'s settings: only
        the sections (kafka, redis, triton) and the model repository it has."""
        every: dict[str, Any] = {
            "kafka": {"bootstrap": self.kafka_bootstrap},
            "redis": {"url": self.redis_url},
            "triton": {"grpc_url": self.triton_grpc_url},
            "model_repository": self.model_repository,
        }
        return {k: v for k, v in every.items() if k in deployable.model_fields}

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    @property
    def triton_grpc_url(self) -> str:
        return f"{self.host}:{self.triton_grpc_port}"


def on_free_ports(state_dir: Path, start_timeout_s: float = 120.0) -> ServicesSettings:
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
    )

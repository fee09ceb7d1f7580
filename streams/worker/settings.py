"""Settings of the scoring worker (`streamscore worker`), the deployable that runs the engines.

Kafka address, security and topic names come from :class:`~streams.client.ClientSettings`;
this class adds what only the worker needs, each component's part as a section it is handed
as it is. Every variable and its default: `streamscore worker --help` lists the common ones;
docs/architecture.md, "Configuration", lists them all.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, ClassVar, Literal

import redis
import redis.asyncio as aioredis
from pydantic import Field, SecretStr, model_validator

from drift.summary import MonitoringConfig
from drift.windows import WindowConfig
from inference.triton_client import TritonConfig
from infra.config import Section, env_name, merge_sections
from infra.settings import ServicesSettings, default_model_repository
from streams.client.settings import ClientSettings
from streams.routing.live import RoutingConfig
from streams.worker.batch_runner import RunnerConfig
from streams.worker.latency_target import LatencyTarget
from streams.worker.pipeline import PipelineConfig

Engine = Literal["faust", "librdkafka"]
Guarantee = Literal["at_least_once", "exactly_once"]


class BatchConfig(Section):
    """Micro-batching: flush at N events or after T ms, whichever first."""

    env_prefix: ClassVar[str] = "BATCH_"

    size: int = Field(512, ge=1, description="Micro-batch size N (flush when reached).")
    timeout_ms: float = Field(
        5.0, gt=0, description="Micro-batch time T: the longest an event waits for company."
    )
    fetch_min_bytes: int = Field(
        1,
        ge=1,
        description="librdkafka engine: the broker answers a fetch once it has this many "
        "bytes or T has passed. 1 takes what has come at once (small batches at low rates); "
        "more gathers bigger batches at low rates, for fewer requests and less CPU.",
    )

    latency_target_ms: float = Field(
        25.0,
        ge=0,
        description="librdkafka engine: the p99 event-to-output latency the worker holds by "
        "choosing, before each take, a batch cap up to N and a linger up to T from what it "
        "measures (streams/worker/latency_target.py); under more load than the target allows "
        "it takes N at once for throughput. 0: fixed N and no linger.",
        json_schema_extra=env_name("LATENCY_TARGET_MS"),
    )

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000.0

    def latency_target(self) -> LatencyTarget | None:
        """The controller for the librdkafka engine's takes (None when the target is off)."""
        if not self.latency_target_ms:
            return None
        return LatencyTarget(
            self.latency_target_ms,
            self.size,
            min_size=min(8, self.size),
            max_wait_s=self.timeout_s,
        )


class RedisConfig(Section):
    """The online feature store, which also holds the routing value."""

    env_prefix: ClassVar[str] = "REDIS_"

    url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL (rediss:// for TLS).")
    username: str | None = Field(
        None, description="Redis ACL user name (AUTH user); unset: the default user."
    )
    password: SecretStr | None = Field(None, description="Redis AUTH password (kept secret).")
    ssl_ca_certs: Path | None = Field(
        None,
        description="CA file that signed the server's certificate (rediss://); system CAs if "
        "unset.",
    )

    def _options(self, timeout_s: float) -> dict[str, Any]:
        """Login and TLS options of redis-py: the URL says where, these say who."""
        options: dict[str, Any] = {"socket_timeout": timeout_s}
        if self.username is not None:
            options["username"] = self.username
        if self.password is not None:
            options["password"] = self.password.get_secret_value()
        if self.ssl_ca_certs is not None and self.url.startswith("rediss://"):
            options["ssl_ca_certs"] = str(self.ssl_ca_certs)
        return options

    def client(self, timeout_s: float = 3.0) -> redis.Redis:
        return redis.Redis.from_url(self.url, **self._options(timeout_s))

    def async_client(self, timeout_s: float = 1.0) -> aioredis.Redis:
        return aioredis.from_url(self.url, **self._options(timeout_s))


class WorkerSettings(ClientSettings):
    """Everything a scoring worker reads from ``STREAMSCORE_*``."""

    engine: Engine = Field(
        "faust",
        description="What consumes the events: a Faust agent, or librdkafka's batch consumer "
        "(same pipeline and delivery contract; several times the throughput, see BENCHMARKS.md).",
    )
    app_id: str = Field(
        "streamscore-scorer", description="Faust app id; also the Kafka consumer group."
    )
    metrics_port: int = Field(9100, ge=0, description="Port of /metrics; 0 turns it off.")
    commit_interval_s: float = Field(1.0, gt=0, description="How often acked offsets commit.")
    session_timeout_s: float = Field(
        10.0,
        ge=6,
        description="How long the group waits for a silent (crashed) worker before its "
        "partitions move to the others: what one SIGKILL stalls them for.",
    )
    processing_guarantee: Guarantee = Field(
        "at_least_once",
        description="at_least_once: outputs acked, then offsets committed (a crash may publish "
        "a batch twice). exactly_once (librdkafka engine): each batch's outputs and offsets in "
        "one Kafka transaction; read the outputs with isolation.level=read_committed.",
    )
    transactional_id: str | None = Field(
        None,
        description="This instance's transactional id under exactly_once (default "
        "'<app_id>-<hostname>'): keep it across restarts so a restarted worker fences its "
        "dead self at once; give each instance running at the same time its own.",
    )
    batch: BatchConfig = Field(default_factory=BatchConfig, description="Micro-batching.")
    runner: RunnerConfig = Field(default_factory=RunnerConfig, description="Publishing.")
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig, description="Decisions.")
    redis: RedisConfig = Field(default_factory=RedisConfig, description="Feature store.")
    triton: TritonConfig = Field(default_factory=TritonConfig, description="Model server.")
    routing: RoutingConfig = Field(default_factory=RoutingConfig, description="Routing.")
    drift: MonitoringConfig = Field(default_factory=MonitoringConfig, description="Drift.")
    window: WindowConfig = Field(default_factory=WindowConfig, description="Drift windows.")
    model_repository: Path = Field(
        default_factory=default_model_repository,
        description="Triton model repository, read for each version's reference distributions "
        "(default: <STREAMSCORE_STATE_DIR>/model_repository, as `streamscore up` uses).",
    )

    @model_validator(mode="after")
    def _guarantee_fits_engine(self) -> WorkerSettings:
        if self.processing_guarantee == "exactly_once" and self.engine != "librdkafka":
            raise ValueError(
                "processing_guarantee exactly_once needs engine librdkafka: Faust's transactions "
                "do not cover the worker's own producer (RELIABILITY.md)"
            )
        return self

    @property
    def transaction_id(self) -> str:
        return self.transactional_id or f"{self.app_id}-{socket.gethostname()}"


def on_services(services: ServicesSettings, **values: Any) -> WorkerSettings:
    """Settings of a worker of the local ``services`` (their addresses), ``values`` on top.

    The demo, the tests and the bench start workers with these, passed to the child process
    as :func:`infra.config.child_environment` writes them.
    """
    return WorkerSettings(**merge_sections(services.addresses(WorkerSettings), values))

"""Settings of the scoring worker (`streamscore worker`), the deployable that runs the agents.

Kafka address, security and topic names come from :class:`~streams.settings.ClientSettings`;
this class adds what only the worker needs. Read once, turned into the frozen
:class:`WorkerConfig`; the components below it never read the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, SecretStr

from inference.triton_model import TritonConfig
from streams.pipeline import PipelineConfig, Thresholds
from streams.settings import ClientConfig, ClientSettings
from streams.worker import RetryConfig


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    client: ClientConfig
    engine: Literal["faust", "librdkafka"]
    app_id: str
    redis_url: str
    redis_password: SecretStr | None = field(repr=False)
    triton: TritonConfig
    pipeline: PipelineConfig
    retry: RetryConfig
    batch_size: int
    batch_timeout_s: float
    default_model: str
    routing_refresh_s: float
    metrics_port: int
    commit_interval_s: float


class WorkerSettings(ClientSettings):
    """Everything a scoring worker reads from ``STREAMSCORE_*``."""

    engine: Literal["faust", "librdkafka"] = Field(
        "faust",
        description="What consumes the events: a Faust agent, or librdkafka's batch consumer "
        "(same pipeline and delivery contract; several times the throughput, see BENCHMARKS.md).",
    )
    app_id: str = Field(
        "streamscore-scorer", description="Faust app id; also the Kafka consumer group."
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Online feature store (rediss:// for TLS)."
    )
    redis_password: SecretStr | None = Field(None, description="Redis AUTH password.")
    triton_grpc_url: str = Field("127.0.0.1:8001", description="Triton gRPC address.")
    triton_ssl: bool = Field(False, description="Use TLS to reach Triton.")
    triton_root_certificates: str | None = Field(None, description="CA file for Triton TLS.")
    triton_timeout_s: float = Field(1.0, gt=0, description="Per-request timeout per model.")
    breaker_failures: int = Field(3, ge=1, description="Failures in a row that open a breaker.")
    breaker_reset_s: float = Field(2.0, gt=0, description="Open time before a trial call.")
    batch_size: int = Field(512, ge=1, description="Micro-batch size N (flush when reached).")
    batch_timeout_ms: float = Field(
        5.0, gt=0, description="Micro-batch time T: the longest an event waits for company."
    )
    on_store_down: Literal["defaults", "backpressure"] = Field(
        "defaults",
        description="Feature store down after retries: score with defaults, or stop taking.",
    )
    review_threshold: float = Field(0.3, ge=0, le=1, description="Score from which to review.")
    decline_threshold: float = Field(0.7, ge=0, le=1, description="Score from which to decline.")
    default_model: str = Field(
        "scorer", description="Primary when no routing is stored: its newest ready version."
    )
    routing_refresh_s: float = Field(1.0, gt=0, description="How often routing is re-read.")
    metrics_port: int = Field(9100, ge=0, description="Port of /metrics; 0 turns it off.")
    commit_interval_s: float = Field(1.0, gt=0, description="How often acked offsets commit.")
    retry_max_backoff_s: float = Field(2.0, gt=0, description="Longest wait between retries.")
    max_in_flight: int = Field(
        3, ge=1, description="Batches whose outputs may await broker acks while the next is scored."
    )

    def to_worker_config(self) -> WorkerConfig:
        return WorkerConfig(
            client=self.to_config(),
            engine=self.engine,
            app_id=self.app_id,
            redis_url=self.redis_url,
            redis_password=self.redis_password,
            triton=TritonConfig(
                url=self.triton_grpc_url,
                timeout_s=self.triton_timeout_s,
                breaker_failures=self.breaker_failures,
                breaker_reset_s=self.breaker_reset_s,
                ssl=self.triton_ssl,
                root_certificates=self.triton_root_certificates,
            ),
            pipeline=PipelineConfig(
                on_store_down=self.on_store_down,
                thresholds=Thresholds(self.review_threshold, self.decline_threshold),
            ),
            retry=RetryConfig(
                max_backoff_s=self.retry_max_backoff_s, max_in_flight=self.max_in_flight
            ),
            batch_size=self.batch_size,
            batch_timeout_s=self.batch_timeout_ms / 1000.0,
            default_model=self.default_model,
            routing_refresh_s=self.routing_refresh_s,
            metrics_port=self.metrics_port,
            commit_interval_s=self.commit_interval_s,
        )

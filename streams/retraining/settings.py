"""Settings of the retraining worker (`streamscore retrain worker`).

Kafka address, security and topic names come from :class:`~streams.client.ClientSettings`;
this class adds Redis (routing), Triton (the primary's scores, loading the new version), the
model repository, the default training range, the training run and the gate, and the
scoring workers' decision thresholds (``STREAMSCORE_REVIEW_THRESHOLD`` / ``DECLINE_THRESHOLD``,
the same variables and meaning), at which the golden-set and segment gates take decisions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from inference.gate import GateConfig
from inference.retraining import RetrainConfig
from inference.training import TrainConfig
from inference.triton_client import TritonConfig
from infra.config import Section, merge_sections
from infra.settings import ServicesSettings, default_model_repository
from streams.client.settings import ClientSettings
from streams.worker.pipeline import PipelineConfig
from streams.worker.settings import RedisConfig


class TrainingConfig(Section):
    """The retraining worker's consumer group, and how a candidate is read and trained
    (``STREAMSCORE_RETRAIN_*``: never a scoring worker's ``STREAMSCORE_APP_ID``)."""

    env_prefix: ClassVar[str] = "RETRAIN_"

    app_id: str = Field(
        "streamscore-retrainer", description="Kafka consumer group of the retraining requests."
    )
    lookback_s: float = Field(
        3600.0, gt=0, description="Training range when a request gives no from_time."
    )
    epochs: int = Field(8, ge=1, description="Training epochs over the training part.")
    batch_size: int = Field(512, ge=1, description="Rows per optimiser step.")
    learning_rate: float = Field(3e-3, gt=0, description="Adam learning rate.")
    hidden: int = Field(32, ge=2, description="Width of the MLP's first hidden layer.")
    seed: int = Field(0, description="Seed of the weights and the batch order.")
    holdout_share: float = Field(
        0.25, gt=0, lt=1, description="Latest share of the rows, by event time, held out."
    )
    max_lateness_s: float = Field(
        3600.0,
        ge=0,
        description="Events and labels are looked for from this long before the range's "
        "start by Kafka timestamp: how much earlier than its event time a record may be "
        "stamped by the broker (producer clock skew).",
    )
    read_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for Kafka while reading a training set."
    )
    ready_timeout_s: float = Field(
        120.0, gt=0, description="Longest wait for Triton to serve a new version."
    )
    metrics_port: int = Field(
        9102, ge=0, description="Port of the retraining worker's /metrics; 0 = off."
    )

    def retrain_config(self) -> RetrainConfig:
        train = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            hidden=self.hidden,
            seed=self.seed,
        )
        return RetrainConfig(holdout_share=self.holdout_share, train=train)


class RetrainingSettings(ClientSettings):
    """Everything a retraining worker reads from ``STREAMSCORE_*``."""

    model_repository: Path = Field(
        default_factory=default_model_repository,
        description="Triton model repository; defaults to <state_dir>/model_repository.",
    )
    redis: RedisConfig = Field(default_factory=RedisConfig, description="Routing value.")
    triton: TritonConfig = Field(default_factory=TritonConfig, description="Model server.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Training.")
    gate: GateConfig = Field(default_factory=GateConfig, description="Promotion gate.")
    pipeline: PipelineConfig = Field(
        default_factory=PipelineConfig, description="Decisions, as the scoring workers take them."
    )

    @field_validator("model_repository")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.expanduser().resolve()


def on_services(services: ServicesSettings, **values: Any) -> RetrainingSettings:
    """Settings of a retraining worker of the local ``services``, ``values`` on top."""
    return RetrainingSettings(**merge_sections(services.addresses(RetrainingSettings), values))

"""Settings of the retraining worker (`streamscore retrain worker`).

Kafka address, security, topic names and the project come from
:class:`~streams.client.ClientSettings`; this class adds Redis (routing), Triton (the
primary's scores, loading the new version), the model repository, the default training range,
the training run and the gate. What trains a candidate (the trainer and its params) and how
its decisions are taken (the model's decider) are the project's; the project file's
``retraining`` and ``gates`` sections give these settings their values (a variable still
wins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from inference.gate import GateConfig
from inference.retraining import Recipe
from inference.triton_client import TritonConfig
from infra.config import Section, merge_sections
from infra.settings import ServicesSettings, default_model_repository
from schemas.project import Project
from streams.client.settings import ClientSettings
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
    seed: int = Field(0, description="Seed handed to the trainer (its weights, its order).")
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

    def recipe(self, project: Project, model: str) -> Recipe:
        """How a candidate of ``model`` is made: the project's trainer and params, this
        seed and holdout."""
        spec = project.model(model)
        return Recipe(
            project.trainer(), dict(project.spec.retraining.params), project.layout.columns,
            spec.task, tuple(spec.classes or ()), self.seed, self.holdout_share,
        )  # fmt: skip


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

    @field_validator("model_repository")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.expanduser().resolve()


def on_services(services: ServicesSettings, **values: Any) -> RetrainingSettings:
    """Settings of a retraining worker of the local ``services``, ``values`` on top."""
    return RetrainingSettings(**merge_sections(services.addresses(RetrainingSettings), values))

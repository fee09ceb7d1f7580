"""Settings of the drift agent (`streamscore drift agent`), one section per concern.

Kafka address, security and topic names come from :class:`~streams.client.ClientSettings`.
The agent's own consumer group and metrics port have ``DRIFT_AGENT_`` names, so that they
never take a scoring worker's ``STREAMSCORE_APP_ID`` or ``STREAMSCORE_METRICS_PORT`` in a
shared environment. docs/drift.md lists every variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from drift.detectors import DetectorConfig
from drift.policy import PolicyConfig
from drift.windows import WindowConfig
from infra.config import Section, merge_sections
from infra.settings import ServicesSettings, default_model_repository
from streams.client.settings import ClientSettings
from streams.worker.settings import RedisConfig


def status_key_of(project: str) -> str:
    """The Redis key of the agent's status (`drift status` reads it), per project."""
    return f"streamscore:{project}:drift:status"


class AgentConfig(Section):
    """The agent process itself."""

    env_prefix: ClassVar[str] = "DRIFT_AGENT_"

    app_id: str = Field(
        "streamscore-drift", description="Faust app id of the drift agent; its consumer group."
    )
    metrics_port: int = Field(9101, ge=0, description="Port of the agent's /metrics; 0 = off.")
    label_join: bool = Field(
        True, description="Join labels with predictions by event_id and watch the model's error."
    )
    label_sample: float = Field(
        0.1, gt=0, le=1, description="Share of events whose prediction waits for its label, "
        "chosen by a hash of event_id (so each label knows at once whether to look).",
    )  # fmt: skip
    label_ttl_s: float = Field(
        3600.0, gt=0, description="How long a prediction waits for its label (or a label for "
        "its prediction) in the join before it is dropped and counted unmatched.",
    )  # fmt: skip
    label_max_entries: int = Field(
        500_000, ge=1, description="Bound of the label join; beyond it, new entries are counted "
        "and dropped.",
    )  # fmt: skip
    status_every_s: float = Field(
        2.0, gt=0, description="How often the agent writes the status `drift status` reads."
    )
    session_timeout_s: float = Field(
        10.0,
        ge=6,
        description="How long the group waits for a silent (crashed) agent before its "
        "partitions move (Faust's own default is 60 s).",
    )


class DriftAgentSettings(ClientSettings):
    """Everything the drift agent reads from ``STREAMSCORE_*``."""

    agent: AgentConfig = Field(default_factory=AgentConfig, description="The agent process.")
    window: WindowConfig = Field(default_factory=WindowConfig, description="Drift windows.")
    detectors: DetectorConfig = Field(default_factory=DetectorConfig, description="Detectors.")
    policy: PolicyConfig = Field(default_factory=PolicyConfig, description="Retraining policy.")
    redis: RedisConfig = Field(default_factory=RedisConfig, description="Status store.")
    model_repository: Path = Field(
        default_factory=default_model_repository,
        description="Triton model repository, read for each version's reference distributions.",
    )


def on_services(services: ServicesSettings, **values: Any) -> DriftAgentSettings:
    """Settings of a drift agent of the local ``services``, ``values`` on top."""
    return DriftAgentSettings(**merge_sections(services.addresses(DriftAgentSettings), values))

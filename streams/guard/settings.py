"""Settings of the canary guard (`streamscore models guard`).

Kafka address, security, topic names and the project come from
:class:`~streams.client.ClientSettings` (the project's decider takes the decisions, so a
decision means the same to the guard as to the workers); this class adds Redis (the routing
it watches and rolls back) and the guard's own section, ``STREAMSCORE_GUARD_*``: its own
consumer group and metrics port, never a worker's.
docs/architecture.md, "Canary guard and live quality", lists every variable.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from infra.config import Section, merge_sections
from infra.settings import ServicesSettings
from streams.client.settings import ClientSettings
from streams.worker.settings import RedisConfig


class GuardConfig(Section):
    """The guard process, its windows and the limits a canary must hold."""

    env_prefix: ClassVar[str] = "GUARD_"

    app_id: str = Field("streamscore-guard", description="Kafka consumer group of the guard.")
    metrics_port: int = Field(9103, ge=0, description="Port of the guard's /metrics; 0 = off.")
    window: int = Field(
        2000, ge=10, description="Labelled predictions per model and role that the live "
        "quality figures are computed over (a sliding window of the latest ones).",
    )  # fmt: skip
    min_labels: int = Field(
        200, ge=1, description="Labelled events a canary (and its primary arm) needs in its "
        "window before the guard judges its error rate or latency.",
    )  # fmt: skip
    error_margin: float = Field(
        0.05, ge=0, le=1, description="Rollback when the canary's error rate exceeds the "
        "primary arm's by more than this.",
    )  # fmt: skip
    max_latency_ms: float = Field(
        500.0, gt=0, description="Rollback when the canary's p99 of scored_at - event_time "
        "over its window exceeds this.",
    )  # fmt: skip
    rollback_on_drift: bool = Field(
        True, description="Rollback when a drift alert names the canary's model version."
    )
    join_ttl_s: float = Field(
        3600.0, gt=0, description="How long a prediction waits for its label (and a label "
        "for its predictions) before it is dropped and counted unmatched.",
    )  # fmt: skip
    join_max_entries: int = Field(
        200_000, ge=1, description="Bound of each side of the label join; beyond it the "
        "oldest entry is dropped and counted unmatched.",
    )  # fmt: skip
    sample: float = Field(
        1.0, gt=0, le=1, description="Share of events joined, chosen by a hash of event_id "
        "(predictions and labels agree on it without any shared state).",
    )  # fmt: skip
    check_every_s: float = Field(
        1.0, gt=0, description="How often the gauges are set and the canary is judged."
    )
    from_beginning: bool = Field(
        False, description="Read the topics from their start (the default starts at their "
        "end: the windows fill from live traffic after every start).",
    )  # fmt: skip


class GuardSettings(ClientSettings):
    """Everything the canary guard reads from ``STREAMSCORE_*``."""

    redis: RedisConfig = Field(default_factory=RedisConfig, description="Routing value.")
    guard: GuardConfig = Field(default_factory=GuardConfig, description="The guard.")


def on_services(services: ServicesSettings, **values: Any) -> GuardSettings:
    """Settings of a guard of the local ``services``, ``values`` on top."""
    return GuardSettings(**merge_sections(services.addresses(GuardSettings), values))

"""The topics StreamScore reads and writes, and their creation on a broker.

docs/architecture.md has the table of topics with their keys and value schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import Field

from infra.config import Section


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int = 4
    config: dict[str, str] = field(default_factory=dict)


FEATURES_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": str(7 * 24 * 3600 * 1000),
}


class TopicNames(Section):
    """Every topic name, configurable as ``STREAMSCORE_TOPIC_<ROLE>``."""

    env_prefix: ClassVar[str] = "TOPIC_"

    events: str = Field("events", description="Events to score.")
    dlq: str = Field("events.dlq", description="Events that could not be scored.")
    predictions: str = Field("predictions", description="Primary model outputs.")
    shadow: str = Field("predictions.shadow", description="Shadow model outputs.")
    drift_alerts: str = Field("drift.alerts", description="Drift detector alerts.")
    drift_summaries: str = Field(
        "drift.summaries", description="Per-window histogram counts from the scoring workers."
    )
    retraining: str = Field("retraining.requests", description="Retraining requests.")
    retraining_results: str = Field(
        "retraining.results", description="Outcomes of retraining: accepted or rejected."
    )
    labels: str = Field("labels", description="Observed outcomes of events.")
    features: str = Field(
        "features", description="Entity feature updates for the online store (compacted)."
    )
    model_events: str = Field(
        "models.events", description="Routing changes and why: rollbacks, canaries, promotions."
    )

    def prefixed(self, prefix: str) -> TopicNames:
        """Every name as ``<prefix>.<name>``: a private set of topics (tests, bench runs)."""
        return TopicNames(**{role: f"{prefix}.{name}" for role, name in self})

    def specs(self, partitions: int = 4) -> list[TopicSpec]:
        data = [self.events, self.dlq, self.predictions, self.shadow, self.labels]
        return [
            *(TopicSpec(name, partitions) for name in data),
            TopicSpec(self.drift_summaries, partitions),
            TopicSpec(self.drift_alerts, 1),
            TopicSpec(self.retraining, 1),
            TopicSpec(self.retraining_results, 1),
            TopicSpec(self.model_events, 1),
            # Entity feature updates: the latest record per entity is what scoring needs, but
            # compaction keeps a week of history, for point-in-time training sets.
            TopicSpec(self.features, partitions, FEATURES_TOPIC_CONFIG),
        ]


def ensure_topics(
    kafka: str | Mapping[str, Any], specs: list[TopicSpec], timeout_s: float = 30.0
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. ``kafka`` is a
    bootstrap address, or a librdkafka configuration (``KafkaConfig.librdkafka()``, with the
    security settings)."""
    conf: dict[str, Any] = {"bootstrap.servers": kafka} if isinstance(kafka, str) else {**kafka}
    admin = AdminClient(conf)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, config=s.config)
        for s in specs
        if s.name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    return created

"""The topics StreamScore reads and writes, and their creation on a broker."""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int = 4
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Defaults from DESIGN.md; every name is configurable."""

    events: str = "events"
    dlq: str = "events.dlq"
    predictions: str = "predictions"
    shadow: str = "predictions.shadow"
    drift_alerts: str = "drift.alerts"
    retraining: str = "retraining.requests"
    labels: str = "labels"
    features: str = "features"

    def specs(self, partitions: int = 4) -> list[TopicSpec]:
        data = [self.events, self.dlq, self.predictions, self.shadow, self.labels]
        return [
            *(TopicSpec(name, partitions) for name in data),
            TopicSpec(self.drift_alerts, 1),
            TopicSpec(self.retraining, 1),
            # Entity feature updates: the latest record per entity is all that matters.
            TopicSpec(self.features, partitions, {"cleanup.policy": "compact"}),
        ]


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
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

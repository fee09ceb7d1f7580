"""What the clients ask the broker before they start: does a topic exist, with what partitions."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from streams.client.errors import KAFKA_LOG, ClientError
from streams.client.settings import ClientSettings


def check_topic(config: ClientSettings, topic: str, timeout_s: float = 10.0) -> int:
    """The topic's partition count; fails early and clearly instead of queueing into a void."""
    admin = AdminClient(config.kafka.librdkafka(logger=KAFKA_LOG))
    return len(topic_partitions(admin, config, topic, timeout_s))


def topic_partitions(
    client: AdminClient | Consumer, config: ClientSettings, topic: str, timeout_s: float
) -> list[int]:
    # Asks for all topics, not this one: asking for a single unknown topic lets a broker with
    # auto.create.topics.enable create it, and a typo would become a topic.
    try:
        meta = client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ClientError(f"cannot reach Kafka at {config.kafka.bootstrap}: {exc}") from exc
    found = meta.topics.get(topic)
    if found is None:
        raise ClientError(f"topic {topic!r} does not exist on {config.kafka.bootstrap}")
    if found.error is not None:
        raise ClientError(f"topic {topic!r}: {found.error}")
    return sorted(found.partitions)

"""What the clients ask the broker before they start: does a topic exist, with what partitions."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from streams.client.errors import KAFKA_LOG, ClientError, LoginWatch
from streams.client.settings import ClientSettings, KafkaConfig


def check_topic(config: ClientSettings, topic: str, timeout_s: float = 10.0) -> int:
    """The topic's partition count; fails early and clearly instead of queueing into a void
    (a refused login is :class:`~streams.client.errors.AuthenticationError`, within a second
    or two of the refusal)."""
    admin, watch = _watched_admin(config.kafka)
    return len(topic_partitions(admin, config, topic, timeout_s, watch))


def check_login(kafka: KafkaConfig, timeout_s: float = 10.0) -> None:
    """Raise AuthenticationError when the brokers refuse this login (or its TLS); nothing
    when they accept it or cannot be reached (a worker waits for them, as before)."""
    admin, watch = _watched_admin(kafka)
    try:
        _metadata(admin, timeout_s, watch, until_down=True)
    except KafkaException:
        return


def _watched_admin(kafka: KafkaConfig) -> tuple[AdminClient, LoginWatch]:
    """An admin client whose authentication and TLS failures its watch remembers."""
    watch = LoginWatch(kafka.bootstrap)
    return AdminClient(kafka.librdkafka(logger=KAFKA_LOG, error_cb=watch)), watch


def topic_partitions(
    client: AdminClient | Consumer,
    config: ClientSettings,
    topic: str,
    timeout_s: float,
    watch: LoginWatch | None = None,
) -> list[int]:
    # Asks for all topics, not this one: asking for a single unknown topic lets a broker with
    # auto.create.topics.enable create it, and a typo would become a topic.
    try:
        meta = _metadata(client, timeout_s, watch)
    except KafkaException as exc:
        raise ClientError(f"cannot reach Kafka at {config.kafka.bootstrap}: {exc}") from exc
    found = meta.topics.get(topic)
    if found is None:
        raise ClientError(f"topic {topic!r} does not exist on {config.kafka.bootstrap}")
    if found.error is not None:
        raise ClientError(f"topic {topic!r}: {found.error}")
    return sorted(found.partitions)


def _metadata(
    client: AdminClient | Consumer,
    timeout_s: float,
    watch: LoginWatch | None,
    until_down: bool = False,
) -> Any:
    """Cluster metadata; asked in slices of a second so that a refused login (``watch``, the
    client's error_cb, served by ``poll``) ends the wait at once instead of at the timeout;
    ``until_down``: so does finding every broker unreachable."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            return client.list_topics(timeout=max(min(1.0, left), 0.05))
        except KafkaException:
            if watch is not None:
                client.poll(0)  # before an assignment a consumer's poll only serves callbacks
                watch.check()
                if until_down and watch.all_down:
                    raise
            if time.monotonic() >= deadline:
                raise

"""ClientSettings: environment in, one frozen object out, one librdkafka dict from it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.schema_files import schema_names
from streams.client import ClientSettings, KafkaConfig
from streams.client.consumer import schema_for_topic
from streams.client.settings import PROJECT_SCHEMAS
from tests.support.env import set_env
from tests.support.projects import example


def test_defaults_are_plaintext_local_and_the_documented_topics() -> None:
    settings = ClientSettings()
    assert settings.kafka.librdkafka() == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "PLAINTEXT",
    }
    assert (settings.topics.events, settings.topics.labels) == ("events", "labels")
    assert settings.registry.url is None


def test_sasl_ssl_from_the_environment_becomes_librdkafka_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(
        monkeypatch,
        KAFKA_BOOTSTRAP="k1:9093,k2:9093",
        SECURITY_PROTOCOL="SASL_SSL",
        SASL_MECHANISM="SCRAM-SHA-512",
        SASL_USERNAME="svc",
        SASL_PASSWORD="hunter2",
        SSL_CA_LOCATION="/etc/ca.pem",
        TOPIC_EVENTS="team.events",
    )
    settings = ClientSettings()
    assert settings.kafka.librdkafka(**{"linger.ms": 5}) == {
        "bootstrap.servers": "k1:9093,k2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": "hunter2",
        "ssl.ca.location": "/etc/ca.pem",
        "linger.ms": 5,
    }
    assert settings.topics.events == "team.events"
    assert "hunter2" not in repr(settings)


def test_an_option_overrides_one_field_and_keeps_the_rest_of_the_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMSCORE_SECURITY_PROTOCOL", "SSL")
    settings = ClientSettings(kafka={"bootstrap": "elsewhere:9092"})
    assert (settings.kafka.bootstrap, settings.kafka.security_protocol) == ("elsewhere:9092", "SSL")


def test_sasl_without_credentials_is_refused_naming_the_variables() -> None:
    with pytest.raises(ValidationError, match="STREAMSCORE_SASL_USERNAME"):
        KafkaConfig(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN")


def test_settings_are_frozen() -> None:
    settings = ClientSettings()
    with pytest.raises(ValidationError):
        settings.kafka = KafkaConfig(bootstrap="elsewhere:9092")  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.kafka.bootstrap = "elsewhere:9092"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["fraud", "delivery"])
def test_every_topic_but_the_dlq_has_its_schema(name: str) -> None:
    """Events, labels and feature updates carry the project's schemas; the rest bundled ones."""
    project = example(name)
    config = ClientSettings(project=project.path)
    assert (config.topics.events, config.topics.labels, config.topics.features) == (
        project.spec.events.topic,
        project.spec.labels.topic,
        project.features.topic,
    )
    for role, topic in config.topics:
        schema = schema_for_topic(topic, config)
        if role == "dlq":
            assert schema is None  # the original bytes, whatever they were
        else:
            known = (*schema_names(), *PROJECT_SCHEMAS)
            assert schema in known, f"{role} carries no schema"
            assert config.codec(schema).schema["type"] == "record", role

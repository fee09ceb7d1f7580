"""ClientSettings: environment in, one frozen config out, one librdkafka dict from it."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from streams.settings import ClientConfig, ClientSettings


def test_defaults_are_plaintext_local_and_the_design_topics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in [k for k in os.environ if k.startswith("STREAMSCORE_")]:
        monkeypatch.delenv(key)
    config = ClientSettings().to_config()
    assert config.kafka_conf() == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "PLAINTEXT",
    }
    assert (config.topics.events, config.topics.labels) == ("events", "labels")
    assert config.schema_registry_url is None


def test_sasl_ssl_from_the_environment_becomes_librdkafka_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {
        "KAFKA_BOOTSTRAP": "k1:9093,k2:9093",
        "SECURITY_PROTOCOL": "SASL_SSL",
        "SASL_MECHANISM": "SCRAM-SHA-512",
        "SASL_USERNAME": "svc",
        "SASL_PASSWORD": "hunter2",
        "SSL_CA_LOCATION": "/etc/ca.pem",
        "TOPIC_EVENTS": "team.events",
    }.items():
        monkeypatch.setenv(f"STREAMSCORE_{key}", value)
    config = ClientSettings().to_config()
    assert config.kafka_conf(**{"linger.ms": 5}) == {
        "bootstrap.servers": "k1:9093,k2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": "hunter2",
        "ssl.ca.location": "/etc/ca.pem",
        "linger.ms": 5,
    }
    assert config.topics.events == "team.events"
    assert "hunter2" not in repr(config)
    assert "hunter2" not in repr(ClientSettings())


def test_sasl_without_credentials_is_refused_naming_the_variables() -> None:
    with pytest.raises(ValidationError, match="STREAMSCORE_SASL_USERNAME"):
        ClientSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN")


def test_every_setting_is_documented() -> None:
    undocumented = [n for n, f in ClientSettings.model_fields.items() if not f.description]
    assert undocumented == []


def test_config_is_frozen() -> None:
    config = ClientConfig()
    with pytest.raises(AttributeError):
        config.kafka_bootstrap = "elsewhere:9092"  # type: ignore[misc]

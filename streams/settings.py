"""Settings of the Kafka clients: the SDK, `streamscore produce | simulate | consume`.

Read once from the environment (prefix ``STREAMSCORE_``) and turned into the frozen
:class:`ClientConfig` that producers and consumers take; they never read the environment.
SASL and TLS are settings, not code changes, and :meth:`ClientConfig.kafka_conf` is the one
place that turns them into librdkafka's configuration keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.topics import TopicNames

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

_TOPICS = TopicNames()  # a slots dataclass keeps no class-level defaults: read an instance


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Plain, frozen view of :class:`ClientSettings` handed to producers and consumers."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = field(default=None, repr=False)
    ssl_ca_location: Path | None = None
    schema_registry_url: str | None = None
    schema_registry_auth: SecretStr | None = field(default=None, repr=False)
    topics: TopicNames = field(default_factory=TopicNames)

    def kafka_conf(self, **extra: Any) -> dict[str, Any]:
        """librdkafka configuration for any client: address and security, then ``extra``."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.kafka_bootstrap,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location is not None:
            conf["ssl.ca.location"] = str(self.ssl_ca_location)
        conf.update(extra)
        return conf

    def registry_conf(self) -> dict[str, str]:
        """Extra Schema Registry client settings (only credentials for now)."""
        if self.schema_registry_auth is None:
            return {}
        return {"basic.auth.user.info": self.schema_registry_auth.get_secret_value()}


class ClientSettings(BaseSettings):
    """Where the Kafka clients connect and how they frame values. Every field is overridable by
    ``STREAMSCORE_<FIELD>`` in the environment; `--bootstrap` overrides ``kafka_bootstrap``."""

    model_config = SettingsConfigDict(env_prefix="STREAMSCORE_", extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port...]."
    )
    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="How clients talk to the brokers: plain, TLS, SASL, SASL+TLS."
    )
    sasl_mechanism: SaslMechanism | None = Field(
        None, description="SASL mechanism; required by the SASL_* protocols."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (kept secret).")
    ssl_ca_location: Path | None = Field(
        None, description="CA bundle that signed the brokers' certificates; system CAs if unset."
    )
    schema_registry_url: str | None = Field(
        None,
        description="Confluent Schema Registry URL; unset means Avro single-object encoding.",
    )
    schema_registry_auth: SecretStr | None = Field(
        None, description="Schema Registry basic auth as 'user:password' (kept secret)."
    )
    topic_events: str = Field(_TOPICS.events, description="Events to score.")
    topic_dlq: str = Field(_TOPICS.dlq, description="Events that could not be scored.")
    topic_predictions: str = Field(_TOPICS.predictions, description="Primary model outputs.")
    topic_shadow: str = Field(_TOPICS.shadow, description="Shadow model outputs.")
    topic_drift_alerts: str = Field(_TOPICS.drift_alerts, description="Drift detector alerts.")
    topic_retraining: str = Field(_TOPICS.retraining, description="Retraining requests.")
    topic_labels: str = Field(_TOPICS.labels, description="Observed outcomes of events.")
    topic_features: str = Field(
        _TOPICS.features, description="Entity feature updates for the online store (compacted)."
    )

    @model_validator(mode="after")
    def _sasl_is_complete(self) -> ClientSettings:
        # librdkafka would only fail at the first connection, far from the setting's name.
        if self.security_protocol.startswith("SASL_"):
            missing = [
                name
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if getattr(self, name) is None
            ]
            if missing:
                names = ", ".join(f"STREAMSCORE_{m.upper()}" for m in missing)
                raise ValueError(f"{self.security_protocol} needs {names}")
        return self

    def to_config(self) -> ClientConfig:
        return ClientConfig(
            kafka_bootstrap=self.kafka_bootstrap,
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            sasl_username=self.sasl_username,
            sasl_password=self.sasl_password,
            ssl_ca_location=self.ssl_ca_location,
            schema_registry_url=self.schema_registry_url,
            schema_registry_auth=self.schema_registry_auth,
            topics=TopicNames(
                events=self.topic_events,
                dlq=self.topic_dlq,
                predictions=self.topic_predictions,
                shadow=self.topic_shadow,
                drift_alerts=self.topic_drift_alerts,
                retraining=self.topic_retraining,
                labels=self.topic_labels,
                features=self.topic_features,
            ),
        )

    def kafka_conf(self, **extra: Any) -> dict[str, Any]:
        """Same as ``to_config().kafka_conf(...)``: the dict is built in one place only."""
        return self.to_config().kafka_conf(**extra)

"""Settings of the Kafka clients: the SDK, `streamscore produce | simulate | consume`.

Read once from the environment (prefix ``STREAMSCORE_``) into the frozen
:class:`ClientSettings` that producers and consumers take; they never read the environment.
SASL and TLS are settings, not code changes, and :meth:`KafkaConfig.librdkafka` is the one
place that turns them into librdkafka's configuration keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from infra.config import Section, Settings, env_name
from schemas.codec import AvroCodec, RegistrySchemaIds, WriterSchemas, load_schema
from schemas.project import Project, load_project, project_path
from streams.topics import TopicNames

# The schemas a project brings (its events, its labels, its feature view), by role.
PROJECT_SCHEMAS = ("event", "label", "entity_features")

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaConfig(Section):
    """Where the brokers are and how to talk to them (``STREAMSCORE_KAFKA_BOOTSTRAP``, and
    the security settings under their own names)."""

    env_prefix: ClassVar[str] = "KAFKA_"

    bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port...]."
    )
    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT",
        description="How clients talk to the brokers: plain, TLS, SASL, SASL+TLS.",
        json_schema_extra=env_name("SECURITY_PROTOCOL"),
    )
    sasl_mechanism: SaslMechanism | None = Field(
        None,
        description="SASL mechanism; required by the SASL_* protocols.",
        json_schema_extra=env_name("SASL_MECHANISM"),
    )
    sasl_username: str | None = Field(
        None, description="SASL user name.", json_schema_extra=env_name("SASL_USERNAME")
    )
    sasl_password: SecretStr | None = Field(
        None,
        description="SASL password (kept secret).",
        json_schema_extra=env_name("SASL_PASSWORD"),
    )
    ssl_ca_location: Path | None = Field(
        None,
        description="CA bundle that signed the brokers' certificates; system CAs if unset.",
        json_schema_extra=env_name("SSL_CA_LOCATION"),
    )

    @model_validator(mode="after")
    def _sasl_is_complete(self) -> KafkaConfig:
        # librdkafka would only fail at the first connection, far from the setting's name.
        if self.security_protocol.startswith("SASL_"):
            names = self.env_names()
            missing = [
                names[name]
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{self.security_protocol} needs {', '.join(missing)}")
        return self

    def librdkafka(self, **extra: Any) -> dict[str, Any]:
        """librdkafka configuration for any client: address and security, then ``extra``."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
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


class RegistryConfig(Section):
    """The Confluent Schema Registry, when values use its wire format."""

    env_prefix: ClassVar[str] = "SCHEMA_REGISTRY_"

    url: str | None = Field(
        None, description="Confluent Schema Registry URL; unset means Avro single-object encoding."
    )
    auth: SecretStr | None = Field(
        None, description="Schema Registry basic auth as 'user:password' (kept secret)."
    )
    writers_dir: Path | None = Field(
        None,
        description="Without a registry: a folder of more writer schemas (*.avsc) to read by "
        "fingerprint, beside the bundled and released ones (producers already on a newer "
        "version while the workers are not).",
    )

    def client_conf(self) -> dict[str, str]:
        """Extra Schema Registry client settings (only credentials for now)."""
        if self.auth is None:
            return {}
        return {"basic.auth.user.info": self.auth.get_secret_value()}

    def codec(
        self,
        schema: str | Mapping[str, Any],
        *,
        logical_types: bool = True,
        project: Project | None = None,
    ) -> AvroCodec:
        """The codec for a bundled schema (by name) or a project's (a dict), framed as this
        deployment frames values. It reads values written with any bundled schema, the
        project's and their released versions, and those in ``writers_dir``."""
        ids = RegistrySchemaIds.from_url(self.url, self.client_conf()) if self.url else None
        writers = WriterSchemas.bundled(self.writers_dir)
        if project is not None:
            for known in (*project.schemas.values(), *project.released):
                writers.add(known)
        reader = load_schema(schema) if isinstance(schema, str) else schema
        return AvroCodec(reader, writers=writers, ids=ids, logical_types=logical_types)


class ClientSettings(Settings):
    """Where the Kafka clients connect, how they frame values, the topic names, and the
    project: the use case whose events, labels and features these clients carry."""

    project: Path = Field(
        default_factory=project_path,
        description="The project file (streamscore.yaml, or its folder): what the use case "
        "is (docs/project.md). Default: the bundled fraud example.",
    )
    kafka: KafkaConfig = Field(default_factory=KafkaConfig, description="Kafka connection.")
    registry: RegistryConfig = Field(
        default_factory=RegistryConfig, description="Schema Registry, if any."
    )
    topics: TopicNames = Field(default_factory=TopicNames, description="Topic names.")

    @classmethod
    def project_variables(cls, given: dict[str, Any]) -> dict[str, str]:
        """The project's topics and settings (schemas/project/project.py), below the
        environment; :class:`~schemas.project.ProjectError` when the file is unusable."""
        return load_project(given.get("project")).setting_defaults()

    def use_case(self) -> Project:
        """The project these settings name, checked (read once per process and version)."""
        return load_project(self.project)

    def codec(self, schema: str, *, logical_types: bool = True) -> AvroCodec:
        """The codec of a bundled schema, or of one the project brings (``event``,
        ``label``, ``entity_features``)."""
        project = self.use_case()
        reader = project.schema(schema) if schema in PROJECT_SCHEMAS else schema
        return self.registry.codec(reader, logical_types=logical_types, project=project)


def for_bootstrap(bootstrap: str | None) -> ClientSettings:
    """Settings from the environment, with ``bootstrap`` (a `--bootstrap` option) on top."""
    return ClientSettings(kafka={"bootstrap": bootstrap}) if bootstrap else ClientSettings()

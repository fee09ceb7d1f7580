"""Settings of the local services: where Kafka, Redis and Triton listen and keep their files.

Read once from the environment (prefix ``STREAMSCORE_``) by the CLI, frozen, and handed to
the launchers as they are; the launchers never read the environment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from infra.config import Settings

DEFAULT_KAFKA_VERSION = "4.1.1"
KafkaSecurity = Literal["none", "sasl_ssl"]
SCRAM_MECHANISM = "SCRAM-SHA-512"
# Kafka's StorageTool reads the SCRAM credential as [name=...,password=...], where these would
# end a value early, and the broker's own login from server.properties, read as ISO-8859-1
# with backslash escapes: printable ASCII without them passes both unchanged.
_SCRAM_UNSAFE = set(",[]\"'\\ ")
# Triton reads its restriction as <protocols>:<header>=<value>, and gRPC metadata values must be
# printable: a key of token characters passes both unchanged.
_HEADER_VALUE = re.compile(r"[A-Za-z0-9._~+/-]+")


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "streamscore"


def default_model_repository() -> Path:
    """Where `streamscore up` keeps the model repository unless told otherwise: the
    deployables that read it (workers, the drift agent, the retraining worker) default to
    the same folder, following ``STREAMSCORE_STATE_DIR`` as the services do."""
    state = os.environ.get("STREAMSCORE_STATE_DIR")
    return (Path(state) if state else _default_state_dir()) / "model_repository"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamscore"


class ServicesSettings(Settings):
    """Where the local Kafka, Redis and Triton run, and how they are secured. Every field is
    overridable by ``STREAMSCORE_<FIELD>`` in the environment; where and which folders also by
    the matching ``streamscore up`` option, security only by the environment (an option would
    put a password on a command line). docs/security.md describes the security fields."""

    host: str = Field("127.0.0.1", description="Address the services bind to and are reached at.")
    kafka_port: int = Field(
        9092, description="Kafka client listener port (PLAINTEXT, or SASL_SSL when secured)."
    )
    kafka_controller_port: int = Field(9093, description="KRaft controller listener port.")
    kafka_version: str = Field(
        DEFAULT_KAFKA_VERSION,
        description="Apache Kafka version whose jars are resolved from Maven.",
    )
    redis_port: int = Field(6379, description="Redis port.")
    triton_http_port: int = Field(8000, description="Triton HTTP/REST port.")
    triton_grpc_port: int = Field(8001, description="Triton gRPC port.")
    triton_metrics_port: int = Field(8002, description="Triton Prometheus metrics port.")
    state_dir: Path = Field(
        default_factory=_default_state_dir,
        description="Data, logs and pid files of the running services.",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Downloads kept across runs (the Kafka jars).",
    )
    # Required in form only: the validator below fills it in from state_dir when not given.
    model_repository: Path = Field(
        description="Triton model repository; defaults to <state_dir>/model_repository."
    )
    start_timeout_s: float = Field(90.0, description="How long `up` waits for each service.")
    kafka_security: KafkaSecurity = Field(
        "none",
        description="Kafka client listener: none (PLAINTEXT) or sasl_ssl (SCRAM-SHA-512 over "
        "TLS with a generated CA; the controller listener then needs that CA's certificate).",
    )
    kafka_sasl_username: str = Field(
        "streamscore",
        description="SCRAM-SHA-512 user created at storage format time (sasl_ssl); a super user.",
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, description="Its password (kept secret); required by kafka_security=sasl_ssl."
    )
    redis_tls: bool = Field(
        False,
        description="Redis serves TLS only (rediss://, --port 0) with the generated certificate.",
    )
    redis_username: str | None = Field(
        None, description="Redis ACL user name (AUTH user); unset: the default user."
    )
    redis_password: SecretStr | None = Field(
        None,
        description="Redis AUTH password (kept secret).",
    )
    triton_admin_key: SecretStr | None = Field(
        None,
        description="Triton model-control key (kept secret): load, unload and the repository "
        "index need it as the admin-key header; inference does not.",
    )

    @field_validator("state_dir", "cache_dir", "model_repository")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.expanduser().resolve()

    @model_validator(mode="after")
    def _security_is_complete(self) -> ServicesSettings:
        if self.kafka_security == "sasl_ssl":
            secret = self.kafka_sasl_password
            if secret is None or not secret.get_secret_value():
                raise ValueError("kafka_security=sasl_ssl needs STREAMSCORE_KAFKA_SASL_PASSWORD")
            for what, value in (("user name", self.kafka_sasl_username),
                                ("password", secret.get_secret_value())):  # fmt: skip
                if (
                    not value
                    or not (value.isascii() and value.isprintable())
                    or _SCRAM_UNSAFE & set(value)
                ):
                    raise ValueError(
                        f"the Kafka SCRAM {what} must be printable ASCII without a space, a "
                        "comma, a bracket, a quote or a backslash"
                    )
        key = self.triton_admin_key
        if key is not None and not _HEADER_VALUE.fullmatch(key.get_secret_value()):
            raise ValueError(
                "STREAMSCORE_TRITON_ADMIN_KEY may hold only letters, digits and . _ ~ + / -"
            )
        if self.redis_username is not None and self.redis_password is None:
            raise ValueError("STREAMSCORE_REDIS_USERNAME needs STREAMSCORE_REDIS_PASSWORD")
        return self

    @model_validator(mode="before")
    @classmethod
    def _repository_in_state(cls, data: Any) -> Any:
        # The repository follows the state folder unless it is given: fill it in before
        # validation, since a frozen model cannot be changed afterwards.
        if isinstance(data, dict) and data.get("model_repository") is None:
            state = data.get("state_dir") or _default_state_dir()
            data = {**data, "model_repository": Path(state) / "model_repository"}
        return data

    def addresses(self, deployable: type[BaseModel]) -> dict[str, Any]:
        """Where these services are, as keyword arguments of ``deployable``'s settings: only
        the sections (kafka, redis, triton) and the model repository it has."""
        kafka: dict[str, Any] = {"bootstrap": self.kafka_bootstrap}
        if self.kafka_security == "sasl_ssl":
            kafka |= {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": SCRAM_MECHANISM,
                "sasl_username": self.kafka_sasl_username,
                "sasl_password": self.kafka_sasl_password,
                "ssl_ca_location": self.ca_file,
            }
        redis: dict[str, Any] = {"url": self.redis_url}
        if self.redis_tls:
            redis["ssl_ca_certs"] = self.ca_file
        if self.redis_password is not None:
            redis |= {"username": self.redis_username, "password": self.redis_password}
        triton: dict[str, Any] = {"grpc_url": self.triton_grpc_url}
        if self.triton_admin_key is not None:
            triton["admin_key"] = self.triton_admin_key
        every = {
            "kafka": kafka,
            "redis": redis,
            "triton": triton,
            "model_repository": self.model_repository,
        }
        return {k: v for k, v in every.items() if k in deployable.model_fields}

    @property
    def tls_dir(self) -> Path:
        """Where the generated CA and server certificate live (infra/tls.py)."""
        return self.state_dir / "tls"

    @property
    def ca_file(self) -> Path:
        """The CA certificate clients trust when Kafka or Redis run with TLS."""
        return self.tls_dir / "ca.pem"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        scheme = "rediss" if self.redis_tls else "redis"
        return f"{scheme}://{self.host}:{self.redis_port}/0"

    @property
    def triton_grpc_url(self) -> str:
        return f"{self.host}:{self.triton_grpc_port}"


def on_free_ports(
    state_dir: Path, start_timeout_s: float = 120.0, **security: Any
) -> ServicesSettings:
    """A private set of services beside any others on this host (tests, benchmarks);
    ``security`` are the security fields (``kafka_security="sasl_ssl"``, ...)."""
    from infra.process import free_port

    return ServicesSettings(
        **security,
        host="127.0.0.1",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        redis_port=free_port(),
        triton_http_port=free_port(),
        triton_grpc_port=free_port(),
        triton_metrics_port=free_port(),
        state_dir=state_dir,
        start_timeout_s=start_timeout_s,
    )

"""Apache Kafka 4.x in KRaft combined mode (broker and controller in one JVM), one node.

The jars come from Maven Central through ``infra/kafka/pom.xml`` and are kept under
``<cache_dir>/kafka/<version>/libs`` so a machine downloads them once. Storage is formatted on
first start. Internal topics get replication factor 1 so consumer groups and transactions work
on a single node.

With ``kafka_security=sasl_ssl`` the client listener is SASL_SSL (SCRAM-SHA-512 over TLS, the
certificate from infra/tls.py), the SCRAM user is created when the storage is formatted and
is the only super user besides the broker itself, and the KRaft controller listener requires
a certificate of the generated CA (mutual TLS), whose key is never kept: only the broker has
one. Broker-to-broker traffic uses the SASL_SSL listener with the same user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

from infra.apt import apt_install
from infra.errors import DownloadError, MissingToolError, StartError
from infra.process import port_is_open
from infra.service import Health, LocalService
from infra.settings import SCRAM_MECHANISM, ServicesSettings
from infra.tls import ensure_certificates, server_principal

# librdkafka logs every refused connection while the broker boots; health checks stay quiet.
_QUIET = logging.getLogger("streamscore.infra.kafka.health")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

JVM_OPTS = [
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
]


class KafkaServer(LocalService):
    name = "kafka"
    stop_timeout_s = 30.0

    def __init__(self, config: ServicesSettings) -> None:
        super().__init__(config)
        self.libs = config.cache_dir / "kafka" / config.kafka_version / "libs"

    # -- install -------------------------------------------------------------------------
    def ensure_installed(self) -> None:
        if find_java() is None:
            apt_install("kafka", ["openjdk-17-jre-headless"], "Java 17+")
        java()
        if (self.libs / ".complete").exists():
            return
        if shutil.which("mvn") is None:  # it resolves the Kafka jars, once
            apt_install("kafka", ["maven"], "Maven (mvn)")
        mvn = shutil.which("mvn")
        if mvn is None:
            raise MissingToolError("kafka: Maven (mvn) not on PATH after installing it")
        pom = resources.files("infra") / "kafka" / "pom.xml"
        self.libs.mkdir(parents=True, exist_ok=True)
        with resources.as_file(pom) as pom_path:
            result = subprocess.run(
                [mvn, "-q", "-B", "-f", str(pom_path), "dependency:copy-dependencies",
                 f"-DoutputDirectory={self.libs}", "-DincludeScope=runtime",
                 f"-Dkafka.version={self.config.kafka_version}"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
        if result.returncode != 0 or not any(self.libs.glob("kafka_2.13-*.jar")):
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-8:])
            raise DownloadError(
                f"kafka: could not resolve Kafka {self.config.kafka_version} jars from Maven "
                f"Central (check the network or STREAMSCORE_KAFKA_VERSION):\n{tail}"
            )
        (self.libs / ".complete").write_text(self.config.kafka_version + "\n")

    # -- lifecycle -----------------------------------------------------------------------
    def _launch(self) -> None:
        cfg = self.config
        props = self._write_properties()
        if not (self.home / "data" / "meta.properties").exists():
            self._format(props)
            self._security_file.write_text(self._fingerprint(salt=os.urandom(16).hex()))
        self._check_formatted_security()
        env = dict(os.environ)
        log4j = resources.files("infra") / "kafka" / "log4j2.yaml"
        argv = [
            java(), *JVM_OPTS, f"-Dlog4j2.configurationFile={log4j}",
            "-cp", f"{self.libs}/*", "kafka.Kafka", str(props),
        ]  # fmt: skip
        self.process.start(argv, env=env, cwd=self.home)
        (self.home / "meta.json").write_text(
            json.dumps({"version": cfg.kafka_version, "bootstrap": cfg.kafka_bootstrap})
        )

    def ports(self) -> dict[str, int]:
        cfg = self.config
        return {"kafka_port": cfg.kafka_port, "kafka_controller_port": cfg.kafka_controller_port}

    def health(self) -> Health:
        from confluent_kafka.admin import AdminClient

        address = self.config.kafka_bootstrap
        if not port_is_open(self.config.host, self.config.kafka_port):
            return Health(self.name, address, False, detail="nothing listens on the port")
        try:
            conf = client_conf(self.config) | {"socket.timeout.ms": 2000, "logger": _QUIET}
            admin = AdminClient(conf)
            meta = admin.list_topics(timeout=2)
        except Exception as exc:  # any client failure means "not healthy"
            return Health(self.name, address, False, detail=str(exc).splitlines()[0])
        if not meta.brokers:
            return Health(self.name, address, False, detail="no broker in metadata")
        return Health(
            self.name, address, True, version=self._version(),
            detail=f"cluster {meta.cluster_id}, {len(meta.brokers)} broker(s)",
        )  # fmt: skip

    # -- helpers -------------------------------------------------------------------------
    def _version(self) -> str:
        try:
            return str(json.loads((self.home / "meta.json").read_text())["version"])
        except (FileNotFoundError, KeyError, ValueError):
            return "unknown (not started by streamscore)"

    def _write_properties(self) -> Path:
        cfg = self.config
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{cfg.host}:{cfg.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{cfg.host}:{cfg.kafka_port},"
            f"CONTROLLER://{cfg.host}:{cfg.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{cfg.host}:{cfg.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            **self._security_properties(),
            "log.dirs": str(data),
            "num.partitions": "4",
            "auto.create.topics.enable": "true",
            # One node: every internal topic must live with replication factor 1.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
        }
        path = self.home / "server.properties"
        path.unlink(missing_ok=True)  # it may hold the SCRAM password: readable by us only
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{k}={v}\n" for k, v in lines.items()))
        return path

    def _security_properties(self) -> dict[str, str]:
        cfg = self.config
        if cfg.kafka_security == "none":
            return {}
        certs = ensure_certificates(cfg.tls_dir, cfg.host)
        assert cfg.kafka_sasl_password is not None  # the settings' validator saw to it
        login = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{cfg.kafka_sasl_username}" '
            f'password="{cfg.kafka_sasl_password.get_secret_value()}";'
        )
        return {
            "listeners": f"SASL_SSL://{cfg.host}:{cfg.kafka_port},"
            f"CONTROLLER://{cfg.host}:{cfg.kafka_controller_port}",
            "advertised.listeners": f"SASL_SSL://{cfg.host}:{cfg.kafka_port}",
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": login,
            "listener.name.controller.ssl.client.auth": "required",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(certs.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certs.ca),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{cfg.kafka_sasl_username};{server_principal()}",
        }

    @property
    def _security_file(self) -> Path:
        return self.home / "data" / "streamscore-security"

    def _fingerprint(self, salt: str) -> str:
        """What the storage was formatted with: the protocol, the user and a salted hash of
        the password (never the password), to refuse a start the storage cannot serve."""
        cfg = self.config
        if cfg.kafka_security == "none":
            return "none\n"
        assert cfg.kafka_sasl_password is not None
        secret = cfg.kafka_sasl_password.get_secret_value().encode()
        digest = hashlib.pbkdf2_hmac("sha256", secret, bytes.fromhex(salt), 100_000).hex()
        return f"{cfg.kafka_security} {cfg.kafka_sasl_username} {salt} {digest}\n"

    def _check_formatted_security(self) -> None:
        if self.config.kafka_security == "none":
            return  # a secured storage serves a plaintext listener as well
        try:
            stored = self._security_file.read_text()
        except FileNotFoundError:
            stored = "none\n"  # formatted before StreamScore recorded it: plaintext
        parts = stored.split()
        salt = parts[2] if len(parts) == 4 else ""
        if self._fingerprint(salt) != stored:
            was = " ".join(parts[:2]) if parts else "none"
            raise StartError(
                f"kafka: the storage under {self.home / 'data'} was formatted for security "
                f"'{was}' (a SCRAM user is created at format time only) and the settings ask "
                f"for '{self.config.kafka_security}' with other credentials; remove that "
                "folder or choose another STREAMSCORE_STATE_DIR"
            )

    def _format(self, props: Path) -> None:
        # URL-safe base64 may start with "-": passed as --cluster-id=… so it is not an option.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        cfg = self.config
        scram: list[str] = []
        if cfg.kafka_security == "sasl_ssl":
            assert cfg.kafka_sasl_password is not None
            password = cfg.kafka_sasl_password.get_secret_value()
            user = f"name={cfg.kafka_sasl_username},password={password}"
            scram = ["--add-scram", f"{SCRAM_MECHANISM}=[{user}]"]
        result = subprocess.run(
            [java(), "-cp", f"{self.libs}/*", "kafka.tools.StorageTool", "format",
             f"--cluster-id={cluster_id}", "-c", str(props), *scram],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            text = result.stdout + result.stderr
            if cfg.kafka_sasl_password is not None:  # the tool may quote its argument
                text = text.replace(cfg.kafka_sasl_password.get_secret_value(), "**********")
            raise DownloadError(f"kafka: formatting storage failed:\n{text}")


def client_conf(config: ServicesSettings) -> dict[str, Any]:
    """librdkafka settings of a client of these services (the health check's)."""
    conf: dict[str, Any] = {"bootstrap.servers": config.kafka_bootstrap}
    if config.kafka_security == "sasl_ssl":
        assert config.kafka_sasl_password is not None
        conf |= {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": SCRAM_MECHANISM,
            "sasl.username": config.kafka_sasl_username,
            "sasl.password": config.kafka_sasl_password.get_secret_value(),
            "ssl.ca.location": str(config.ca_file),
        }
    return conf


def find_java() -> str | None:
    """JAVA_HOME's java, else the one on PATH (None: neither)."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return candidate if candidate and Path(candidate).exists() else None


def java() -> str:
    candidate = find_java()
    if candidate is None:
        raise MissingToolError(
            "kafka: Java 17+ not found; install it (apt-get install openjdk-17-jre-headless) "
            "or set JAVA_HOME"
        )
    return candidate

"""Apache Kafka 4.x in KRaft combined mode (broker and controller in one JVM), one node.

The jars come from Maven Central through ``infra/kafka/pom.xml`` and are kept under
``<cache_dir>/kafka/<version>/libs`` so a machine downloads them once. Storage is formatted on
first start. Internal topics get replication factor 1 so consumer groups and transactions work
on a single node.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

from infra.errors import DownloadError, MissingToolError
from infra.process import port_is_open
from infra.service import Health, LocalService
from infra.settings import ServicesSettings

# librdkafka logs every refused connection while the broker boots; health checks stay quiet.
_QUIET = logging.getLogger("streamscore.infra.kafka.health")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

JVM_OPTS = [
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
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
        java()
        if (self.libs / ".complete").exists():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise MissingToolError(
                "kafka: Maven (mvn) not found; it resolves the Kafka jars once: "
                "apt-get install maven"
            )
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
            conf: dict[str, Any] = {
                "bootstrap.servers": address,
                "socket.timeout.ms": 2000,
                "logger": _QUIET,
            }
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
        path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        return path

    def _format(self, props: Path) -> None:
        # URL-safe base64 may start with "-": passed as --cluster-id=… so it is not an option.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        result = subprocess.run(
            [java(), "-cp", f"{self.libs}/*", "kafka.tools.StorageTool", "format",
             f"--cluster-id={cluster_id}", "-c", str(props)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise DownloadError(
                f"kafka: formatting storage failed:\n{result.stdout}{result.stderr}"
            )


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise MissingToolError(
            "kafka: Java 17+ not found; install it (apt-get install openjdk-17-jre-headless) "
            "or set JAVA_HOME"
        )
    return candidate

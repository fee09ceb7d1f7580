"""Static checks of docker-compose.yml and the Prometheus and Grafana files it mounts.

No Docker engine runs where the tests run, so the files are parsed, not started:
ports against ``ServicesSettings`` defaults, health gates, the GPU reservation, KRaft settings,
bind-mount sources, scrape targets and the dashboard's provisioning (its metric names:
tests/infra/test_dashboard.py); the project every app service reads, the variables it is
given (each one a setting of the command it runs), and the starter versions written, for
Triton's native backends, before Triton starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from drift.settings import DriftAgentSettings
from infra.config import Settings
from infra.settings import ServicesSettings
from schemas.project import load_project
from streams.guard.settings import GuardSettings
from streams.retraining.settings import RetrainingSettings
from streams.worker.settings import WorkerSettings
from tests.support.dashboard import dashboard_panels

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DASHBOARD = REPO / "infra" / "grafana" / "dashboards" / "streamscore.json"
SERVICES = {
    "kafka",
    "redis",
    "models",
    "triton",
    "worker",
    "drift-agent",
    "retrainer",
    "guard",
    "prometheus",
    "grafana",
}
# The services that run the app image, and the settings of what each runs (`models` runs
# the starter preparation with the worker's settings, as `streamscore up` does).
APP_SETTINGS: dict[str, type[Settings]] = {
    "models": WorkerSettings,
    "worker": WorkerSettings,
    "drift-agent": DriftAgentSettings,
    "retrainer": RetrainingSettings,
    "guard": GuardSettings,
}
# The services that write model versions into Triton's repository.
WRITERS = ("models", "retrainer")
NGC_NATIVE = {"onnxruntime"}  # backends of the NGC Triton image that StreamScore writes for


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch) -> ServicesSettings:
    for name in list(os.environ):
        if name.upper().startswith("STREAMSCORE_"):
            monkeypatch.delenv(name)
    return ServicesSettings()


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def published_ports(service: dict[str, Any]) -> dict[int, int]:
    """Host port -> container port, from the short ("[ip:]host:container") or long syntax."""
    ports: dict[int, int] = {}
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports[int(entry["published"])] = int(entry["target"])
            continue
        parts = str(entry).split("/")[0].split(":")
        assert len(parts) >= 2, f"{entry!r} publishes no fixed host port"
        ports[int(parts[-2])] = int(parts[-1])
    return ports


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` -> {NAME: (host, port)}."""
    out = {}
    for item in value.split(","):
        name, address = item.split("://")
        host, port = address.rsplit(":", 1)
        out[name] = (host, int(port))
    return out


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts (named volumes left out)."""
    mounts = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            if entry.get("type") == "bind":
                mounts[entry["target"]] = entry["source"]
            continue
        source, target = entry.split(":")[:2]
        if source.startswith((".", "/", "~")):
            mounts[target] = source
    return mounts


def test_every_service_is_defined(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= SERVICES


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("kafka", "/opt/kafka/bin/kafka-broker-api-versions.sh"),
        ("redis", "redis-cli ping"),
        ("triton", "http://localhost:8000/v2/health/ready"),
        ("worker", "http://localhost:9100/metrics"),
        ("drift-agent", "http://localhost:9101/metrics"),
        ("retrainer", "http://localhost:9102/metrics"),
    ],
)
def test_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]], name: str, probe: str
) -> None:
    check = services[name]["healthcheck"]
    assert not check.get("disable", False)
    test = check["test"]
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"}, test
        test = " ".join(test[1:])
    assert probe in test


def test_host_ports_match_local_defaults(
    services: dict[str, dict[str, Any]], defaults: ServicesSettings
) -> None:
    assert published_ports(services["redis"]) == {defaults.redis_port: 6379}
    triton = (defaults.triton_http_port, defaults.triton_grpc_port, defaults.triton_metrics_port)
    # Triton keeps its own default ports inside the container: host and container agree.
    assert published_ports(services["triton"]) == {port: port for port in triton}

    kafka = published_ports(services["kafka"])
    assert set(kafka) == {defaults.kafka_port}
    env = environment(services["kafka"])
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    # The published container port is the listener that tells clients "localhost:<host port>".
    (host_listener,) = [
        name for name, (_, port) in bound.items() if port == kafka[defaults.kafka_port]
    ]
    assert advertised[host_listener] == ("localhost", defaults.kafka_port)
    assert bound["CONTROLLER"][1] == defaults.kafka_controller_port


def test_kafka_is_a_single_kraft_node(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["kafka"])
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    controller_port = listeners(env["KAFKA_LISTENERS"])["CONTROLLER"][1]
    assert (
        env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:{controller_port}"
    )
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"


def test_triton_reserves_an_nvidia_gpu(services: dict[str, dict[str, Any]]) -> None:
    triton = services["triton"]
    (device,) = triton["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert device.get("count", 0) == "all" or int(device.get("count", 0)) >= 1
    image = triton["build"]["dockerfile_inline"] if "build" in triton else triton["image"]
    assert re.search(r"nvcr\.io/nvidia/tritonserver:\d\d\.\d\d-py3", image)
    command = " ".join(triton["command"])
    assert "--model-repository=/models" in command
    assert "--model-control-mode=explicit" in command
    assert any(volume.split(":")[1] == "/models" for volume in triton["volumes"])


def test_worker_waits_for_healthy_services(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert worker["depends_on"] == {
        name: {"condition": "service_healthy"} for name in ("kafka", "redis", "triton")
    }
    env = environment(worker)
    kafka = listeners(environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"])
    assert env["STREAMSCORE_KAFKA_BOOTSTRAP"] == "{}:{}".format(*kafka["PLAINTEXT"])
    assert env["STREAMSCORE_REDIS_URL"] == "redis://redis:6379/0"
    assert env["STREAMSCORE_TRITON_GRPC_URL"] == "triton:8001"
    dockerfile = REPO / worker["build"]["context"] / worker["build"]["dockerfile"]
    text = dockerfile.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["streamscore"\]$', text, re.M)


def test_relative_bind_mount_sources_exist(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for source in bind_mounts(service).values():
            assert not source.startswith(("/", "~")), f"{name}: {source} is outside the repo"
            assert (REPO / source).exists(), f"{name}: {source} does not exist"
        for entry in service.get("volumes", []):
            source = entry["source"] if isinstance(entry, dict) else entry.split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: named volume {source} is not declared"


def test_prometheus_scrapes_worker_drift_agent_and_triton(
    services: dict[str, dict[str, Any]],
) -> None:
    mounts = bind_mounts(services["prometheus"])
    config = yaml.safe_load((REPO / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert {"worker:9100", "drift-agent:9101", "retrainer:9102", "triton:8002"} <= targets
    assert 9100 in published_ports(services["worker"]).values()
    assert 9101 in published_ports(services["drift-agent"]).values()
    assert 9102 in published_ports(services["retrainer"]).values()


def test_grafana_provisioning_points_at_the_dashboard(services: dict[str, dict[str, Any]]) -> None:
    mounts = bind_mounts(services["grafana"])
    provisioning = REPO / mounts["/etc/grafana/provisioning"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "streamscore.yml").read_text())[
        "providers"
    ]
    dashboards = [target for target in mounts if target.startswith(provider["options"]["path"])]
    assert [REPO / mounts[target] for target in dashboards] == [DASHBOARD]
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    for panel in dashboard_panels(DASHBOARD):
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]


def dockerfile(services: dict[str, dict[str, Any]]) -> str:
    build = services["worker"]["build"]
    return (REPO / build["context"] / build["dockerfile"]).read_text()


def in_repo(image_path: str, text: str) -> Path:
    """The repository file an image path holds (the Dockerfile copies the repository's folders
    into its WORKDIR under the same names)."""
    (workdir,) = re.findall(r"^WORKDIR (\S+)$", text, re.M)
    relative = PurePosixPath(image_path).relative_to(workdir)
    (folder, *_) = relative.parts
    assert re.search(rf"^COPY {folder} \./{folder}$", text, re.M), f"the image has no {folder}/"
    return REPO / relative


def app_environment(service: dict[str, Any], text: str) -> dict[str, str]:
    """A service's variables, its project file as the repository's copy of it."""
    env = environment(service)
    env["STREAMSCORE_PROJECT"] = str(in_repo(env["STREAMSCORE_PROJECT"], text))
    return env


def test_every_app_service_reads_a_project_of_the_image(
    services: dict[str, dict[str, Any]],
) -> None:
    text = dockerfile(services)
    apps = {name for name, s in services.items() if s.get("image") == "streamscore:latest"}
    assert apps == set(APP_SETTINGS)
    for name in APP_SETTINGS:
        project = environment(services[name]).get("STREAMSCORE_PROJECT")
        assert project, f"{name}: no STREAMSCORE_PROJECT"
        path = in_repo(project, text)
        assert path == REPO / "examples" / "fraud" / "streamscore.yaml", name
        assert load_project(path).name == "fraud"


def test_every_variable_of_an_app_service_is_a_setting_of_what_it_runs(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, settings in APP_SETTINGS.items():
        known = {variable for variable, _ in settings.variables()}
        given = {v for v in environment(services[name]) if v.startswith("STREAMSCORE_")}
        assert given <= known, f"{name}: {settings.__name__} reads no {given - known}"


def test_the_services_that_write_versions_write_them_for_tritons_native_backends(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = dockerfile(services)
    triton_mount = next(v for v in services["triton"]["volumes"] if v.split(":")[1] == "/models")
    for name in WRITERS:
        for variable in [v for v in os.environ if v.upper().startswith("STREAMSCORE_")]:
            monkeypatch.delenv(variable)
        for variable, value in app_environment(services[name], text).items():
            monkeypatch.setenv(variable, value)
        settings: Any = APP_SETTINGS[name]()
        assert settings.triton.native() == NGC_NATIVE, name
        # ... into the very repository Triton loads.
        assert str(settings.model_repository) == "/models", name
        assert triton_mount in services[name]["volumes"], name
    for name in set(APP_SETTINGS) - set(WRITERS):
        assert "STREAMSCORE_TRITON_NATIVE_BACKENDS" not in environment(services[name]), name


def test_triton_starts_once_the_starter_versions_are_in_its_repository(
    services: dict[str, dict[str, Any]],
) -> None:
    models = services["models"]
    assert services["triton"]["depends_on"] == {
        "models": {"condition": "service_completed_successfully"}
    }
    assert models.get("restart", "no") == "no"  # a one-shot: done once it exits 0
    script = " ".join(models["entrypoint"] + models["command"])
    assert "preparer(" in script and "serving_config(" in script
    compile(models["command"][-1], "models", "exec")  # the script is Python

"""The launchers: clear one-line errors, idempotent start, nothing left behind on stop."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.apt import apt_install
from infra.errors import MissingToolError, PortInUseError
from infra.kafka_server import java
from infra.process import ManagedProcess, free_port, require_free_ports
from infra.redis_server import RedisServer
from infra.settings import ServicesSettings
from streams.cli import cli


def test_taken_port_names_port_and_option() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError) as info:
            require_free_ports("redis", "127.0.0.1", {"redis_port": port})
    message = str(info.value)
    assert f"port {port}" in message
    assert "--redis-port" in message and "STREAMSCORE_REDIS_PORT" in message
    assert "\n" not in message


def test_missing_java_says_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(MissingToolError, match="Java 17"):
        java()


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSCORE_KAFKA_PORT", "19999")
    monkeypatch.setenv("STREAMSCORE_STATE_DIR", "/tmp/somewhere")
    config = ServicesSettings()
    assert config.kafka_port == 19999
    assert config.kafka_bootstrap == "127.0.0.1:19999"
    assert config.model_repository == Path("/tmp/somewhere/model_repository")


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", tmp_path)
    # A parent that forks a child, like tritonserver and its Python stubs.
    script = "import subprocess, time; subprocess.Popen(['sleep', '300']); time.sleep(300)"
    pid = proc.start([sys.executable, "-c", script])
    time.sleep(0.5)
    assert len(_live_members(pid)) == 2
    assert proc.stop(timeout_s=5) is True
    assert _live_members(pid) == []  # zombies awaiting init's reaping are not processes
    assert not proc.pid_file.exists()
    assert proc.stop() is False


def _live_members(pgid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _cli_env(config: ServicesSettings) -> dict[str, str]:
    return {
        "STREAMSCORE_HOST": config.host,
        "STREAMSCORE_KAFKA_PORT": str(config.kafka_port),
        "STREAMSCORE_KAFKA_CONTROLLER_PORT": str(config.kafka_controller_port),
        "STREAMSCORE_REDIS_PORT": str(config.redis_port),
        "STREAMSCORE_TRITON_HTTP_PORT": str(config.triton_http_port),
        "STREAMSCORE_TRITON_GRPC_PORT": str(config.triton_grpc_port),
        "STREAMSCORE_TRITON_METRICS_PORT": str(config.triton_metrics_port),
        "STREAMSCORE_STATE_DIR": str(config.state_dir),
    }


def test_status_reports_each_service_with_version(stack: ServicesSettings) -> None:
    result = CliRunner().invoke(cli, ["status"], env=_cli_env(stack))
    assert result.exit_code == 0, result.output
    for name, address in (
        ("kafka", stack.kafka_bootstrap),
        ("redis", f"{stack.host}:{stack.redis_port}"),
        ("triton", stack.triton_grpc_url),
    ):
        assert name in result.output and address in result.output
    assert stack.kafka_version in result.output


def test_up_is_idempotent(stack: ServicesSettings) -> None:
    result = CliRunner().invoke(cli, ["up"], env=_cli_env(stack))
    assert result.exit_code == 0, result.output
    assert result.output.count("already running") == 3


def test_status_fails_when_a_service_is_down(stack: ServicesSettings) -> None:
    env = _cli_env(stack) | {"STREAMSCORE_REDIS_PORT": str(free_port())}
    result = CliRunner().invoke(cli, ["status"], env=env)
    assert result.exit_code == 1
    assert "nothing listens" in result.output


@pytest.mark.integration  # a real redis-server, started without the session fixtures
def test_redis_down_leaves_no_process(tmp_path: Path) -> None:
    config = ServicesSettings(redis_port=free_port(), state_dir=tmp_path)
    server = RedisServer(config)
    assert server.start() is True
    assert server.start() is False  # already running
    pid = server.process.pid()
    assert pid is not None and server.health().healthy
    assert server.stop() is True
    assert not Path(f"/proc/{pid}").exists()
    assert not server.health().healthy


def test_a_missing_package_is_installed_with_apt_or_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`make install` installs what a fresh machine lacks (Java, Maven, redis-server) from
    Debian's packages; without apt-get or root it stops at one line naming the command."""
    calls = tmp_path / "calls"
    fake = tmp_path / "apt-get"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    apt_install("kafka", ["openjdk-17-jre-headless"], "Java 17+")
    assert calls.read_text().splitlines() == [
        "update -qq",
        "install -y -qq openjdk-17-jre-headless",
    ]

    fake.write_text("#!/bin/sh\necho 'E: Unable to locate package' >&2\nexit 100\n")
    with pytest.raises(MissingToolError, match="Unable to locate package"):
        apt_install("kafka", ["maven"], "Maven (mvn)")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(MissingToolError) as info:
        apt_install("kafka", ["maven"], "Maven (mvn)")
    assert str(info.value) == (
        "kafka: Maven (mvn) not found; install it (sudo apt-get install maven) or put it on PATH"
    )

"""`streamscore down`: stops what `up` started under a state folder, and only that."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.redis_server import RedisServer
from infra.settings import on_free_ports
from streams.cli import cli


@pytest.mark.integration
def test_down_stops_the_running_services_and_says_which_were_not_running(
    tmp_path: Path,
) -> None:
    settings = on_free_ports(tmp_path)
    redis = RedisServer(settings)
    redis.start()
    pid = redis.process.pid()
    assert pid is not None and Path(f"/proc/{pid}").exists()
    result = CliRunner().invoke(cli, ["down"], env=settings.environment())
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in result.stdout.splitlines()}
    assert lines == {"triton": "not running", "redis": "stopped", "kafka": "not running"}
    assert redis.stop() is False  # nothing left to stop (and the exited child is reaped)
    assert not Path(f"/proc/{pid}").exists()
    again = CliRunner().invoke(cli, ["down"], env=settings.environment())
    assert "redis   not running" in again.stdout

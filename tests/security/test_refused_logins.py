"""Wrong credentials against the secured stack: one clear line, a non-zero exit, no hang,
and neither the right nor the wrong secret in any output.

Each command is a real `streamscore` child reading only STREAMSCORE_* variables; its
``timeout`` bounds a hang (a client retrying a refused login for ever), it measures nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from infra.settings import SCRAM_MECHANISM
from streams.client import ClientSettings
from streams.worker.settings import on_services
from tests.support.events import make_events
from tests.support.security import Secured, one_line, run_cli, with_values

pytestmark = pytest.mark.integration

WRONG = "not-the-password-9Qx"
BOUND_S = 60  # a refused login must end the command well within this


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    events, _ = make_events(3, seed=1, entities=["acct-1"])
    path = tmp_path / "events.jsonl"
    path.write_text(
        "".join(json.dumps({**e, "event_time": e["event_time"].isoformat()}) + "\n" for e in events)
    )
    return path


def test_the_right_kafka_login_produces(secured: Secured, events_file: Path) -> None:
    settings = ClientSettings(**secured.config.addresses(ClientSettings))
    result = run_cli(secured, "produce", settings, ["produce", str(events_file)], BOUND_S)
    assert result.returncode == 0, result.stderr
    assert one_line(result.stdout).startswith("sent 3, failed 0")
    assert secured.leaks() == []


def test_a_wrong_kafka_password_is_one_line_and_exit_1(secured: Secured, events_file: Path) -> None:
    right = ClientSettings(**secured.config.addresses(ClientSettings))
    wrong = with_values(right, "kafka", sasl_password=SecretStr(WRONG))
    result = run_cli(
        secured, "produce, wrong password", wrong, ["produce", str(events_file)], BOUND_S
    )
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        f"error: Kafka authentication failed at {secured.config.kafka_bootstrap}: SASL "
        "authentication error: Authentication failed during authentication due to invalid "
        f"credentials with SASL mechanism {SCRAM_MECHANISM}"
    )
    assert result.stdout == ""
    assert secured.leaks() == [] and not any(WRONG in t for t in secured.outputs.values())


@pytest.mark.parametrize("engine", ["faust", "librdkafka"])
def test_a_worker_with_a_wrong_kafka_password_stops_with_one_line(
    secured: Secured, engine: str
) -> None:
    settings = with_values(
        on_services(secured.config, engine=engine), "kafka", sasl_password=SecretStr(WRONG)
    )
    result = run_cli(
        secured, f"{engine} worker, wrong Kafka password", settings, ["worker"], BOUND_S
    )
    assert result.returncode == 1
    assert one_line(result.stderr).startswith(
        f"error: Kafka authentication failed at {secured.config.kafka_bootstrap}: SASL "
        "authentication error: Authentication failed"
    )
    assert secured.leaks() == [] and not any(WRONG in t for t in secured.outputs.values())


def test_a_worker_with_a_wrong_redis_password_stops_with_one_line(secured: Secured) -> None:
    settings = with_values(on_services(secured.config), "redis", password=SecretStr(WRONG))
    result = run_cli(secured, "worker, wrong Redis password", settings, ["worker"], BOUND_S)
    assert result.returncode == 1
    address = f"{secured.config.host}:{secured.config.redis_port}"
    assert one_line(result.stderr) == (
        f"error: Redis authentication failed at {address} as user "
        f"{settings.redis.username!r}: invalid username-password pair or user is disabled."
    )
    assert secured.leaks() == [] and not any(WRONG in t for t in secured.outputs.values())


def test_models_list_with_a_wrong_redis_password_is_one_line(secured: Secured) -> None:
    settings = with_values(on_services(secured.config), "redis", password=SecretStr(WRONG))
    result = run_cli(secured, "models list, wrong Redis password", settings, ["models", "list"])
    assert result.returncode == 1
    assert "invalid username-password pair" in one_line(result.stderr)
    assert secured.leaks() == [] and not any(WRONG in t for t in secured.outputs.values())


def test_a_worker_with_a_wrong_triton_key_stops_with_one_line(secured: Secured) -> None:
    settings = with_values(on_services(secured.config), "triton", admin_key=SecretStr(WRONG))
    result = run_cli(secured, "worker, wrong Triton key", settings, ["worker"], BOUND_S)
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        f"error: Triton at {secured.config.triton_grpc_url} refused the model-control key "
        "(STREAMSCORE_TRITON_ADMIN_KEY)"
    )
    assert secured.leaks() == [] and not any(WRONG in t for t in secured.outputs.values())

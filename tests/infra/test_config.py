"""The settings machinery: flat variables into frozen sections, and back out for a child."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import child_environment
from schemas.project import EXAMPLES
from streams.topics import TopicNames
from streams.worker.settings import WorkerSettings
from tests.support.env import set_env
from tests.support.projects import derived


def test_section_fields_read_their_flat_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        BATCH_SIZE="64",
        BATCH_TIMEOUT_MS="7.5",
        TRITON_GRPC_URL="triton:8001",
        BREAKER_FAILURES="9",
        MAX_IN_FLIGHT="5",
        ON_STORE_DOWN="backpressure",
        ROUTING_REFRESH_S="0.3",
        TOPIC_DLQ="team.dlq",
        ENGINE="librdkafka",
        PROJECT=str(EXAMPLES / "fraud" / "streamscore.yaml"),
    )
    s = WorkerSettings()
    assert (s.batch.size, s.batch.timeout_s) == (64, 0.0075)
    assert (s.triton.grpc_url, s.triton.breaker_failures) == ("triton:8001", 9)
    assert (s.runner.max_in_flight, s.pipeline.on_store_down) == (5, "backpressure")
    assert (s.routing.refresh_s, s.topics.dlq, s.engine) == (0.3, "team.dlq", "librdkafka")
    assert s.project == EXAMPLES / "fraud" / "streamscore.yaml"


def test_keyword_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSCORE_BATCH_SIZE", "64")
    monkeypatch.setenv("STREAMSCORE_BATCH_TIMEOUT_MS", "9")
    s = WorkerSettings(batch={"size": 8})
    assert (s.batch.size, s.batch.timeout_ms) == (8, 9.0)


def test_a_bad_variable_is_refused_with_its_field() -> None:
    with pytest.raises(ValueError, match="size"):
        WorkerSettings(batch={"size": 0})


def test_a_child_started_with_the_environment_reads_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAMSCORE_BATCH_SIZE", "3")  # the parent's own: must not leak
    project = derived("fraud", tmp_path / "project")  # a project of its own: read the same
    settings = WorkerSettings(
        project=project,
        engine="librdkafka",
        app_id="g-1",
        metrics_port=0,
        batch={"size": 17, "timeout_ms": 2.5},
        runner={"max_in_flight": 2},
        pipeline={"on_store_down": "backpressure"},
        redis={"url": "redis://r:1/0", "password": "s3cret"},
        triton={"grpc_url": "t:2", "ssl": True, "breaker_reset_s": 0.5},
        routing={"refresh_s": 0.3},
        topics=TopicNames().prefixed("x"),
        kafka={"bootstrap": "k:3"},
    )
    env = child_environment(settings)
    assert "STREAMSCORE_BATCH_SIZE" in env and env["STREAMSCORE_BATCH_SIZE"] == "17"
    script = (
        "import pickle, sys; from streams.worker.settings import WorkerSettings; "
        "sys.stdout.buffer.write(pickle.dumps(WorkerSettings()))"
    )
    child = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert child.returncode == 0, child.stderr.decode()
    read = pickle.loads(child.stdout)
    assert read == settings  # secrets included: SecretStr compares the values


def test_the_child_environment_keeps_the_rest_of_this_one() -> None:
    env = child_environment(WorkerSettings())
    assert env["PATH"] == os.environ["PATH"]

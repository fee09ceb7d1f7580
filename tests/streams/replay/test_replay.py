"""`streamscore replay` on the real services, for each example project: the primary's own
version replayed over the range a live worker scored gives the same outputs for every event,
and the report over the replay topic says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from infra.settings import ServicesSettings
from schemas.project import ENV_VAR
from streams.cli import cli
from streams.simulation.simulator import EventSimulator
from tests.support.deployed import Deployed, read_records
from tests.support.kafka import create_topics
from tests.support.waiting import wait_for

N = 3000
ENTITIES = 1000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
RANGE = ["--from", "2025-12-31T23:00:00Z", "--to", "2026-01-01T01:00:00Z", "--lateness", "0"]


def test_replaying_the_primary_reproduces_its_live_scores_exactly(
    stack: ServicesSettings, start_worker: Any, deployed: Deployed, tmp_path: Path
) -> None:
    model = deployed.model
    deployed.load_simulated(ENTITIES)
    worker = start_worker(engine="librdkafka", batch={"size": 256}, project=deployed.path)
    topics = worker.topics
    create_topics(stack.kafka_bootstrap, topics)
    sim = EventSimulator(deployed.project, seed=0, entities=ENTITIES, start=T0, rate=1000.0)
    deployed.send_simulated(topics.events, sim, N, labels_topic=topics.labels)
    live: list[dict[str, Any]] = []

    def scored() -> bool:
        live[:] = read_records(stack.kafka_bootstrap, topics.predictions, "prediction", 2)
        return len({p["event_id"] for p in live}) >= N

    wait_for(scored, 120, f"{N} live predictions")
    assert not any(p["features_missing"] or p["features_stale"] for p in live)
    worker.stop()  # the replay reads the range on its own
    env = {f"STREAMSCORE_TOPIC_{role.upper()}": name for role, name in topics}
    env[ENV_VAR] = deployed.path
    services = ["--bootstrap", stack.kafka_bootstrap, "--triton-url", stack.triton_grpc_url,
                "--redis-url", f"redis://{stack.host}:{stack.redis_port}/0"]  # fmt: skip
    replay_topic = f"{topics.predictions}.replay"
    # replay with a different batch size than the worker's: scores must not depend on it
    result = CliRunner().invoke(
        cli,
        ["replay", *RANGE, "--model", f"{model}:1", "--to-topic", replay_topic, *services],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert f"replayed {N:,} events" in result.output

    replayed = read_records(stack.kafka_bootstrap, replay_topic, "prediction", 2)
    by_event = {p["event_id"]: p for p in replayed}
    assert len(replayed) == N and len(by_event) == N
    mismatched = [
        p
        for p in live
        if (by_event[p["event_id"]]["score"], by_event[p["event_id"]]["outputs"])
        != (p["score"], p["outputs"])
        or by_event[p["event_id"]]["decision"] != p["decision"]
        or by_event[p["event_id"]]["attributes"] != p["attributes"]
    ]
    assert mismatched == [], mismatched[:3]

    result = CliRunner().invoke(
        cli,
        ["report", "shadow", *RANGE, "--shadow-topic", replay_topic, "--out", str(tmp_path),
         "--bootstrap", stack.kafka_bootstrap],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["primary"], report["shadow"]) == (f"{model}:1", f"{model}:1")
    assert report["coverage"]["joined"] == N
    assert report["decisions"]["agreement"] == 1.0
    assert report["scores"]["delta"]["min"] == report["scores"]["delta"]["max"] == 0.0
    if deployed.project.task == "regression":
        # A minute is no class: the shadow report leaves a regression's labels out
        # (streams/report/lookups.py), and says none were read.
        assert report["labels"] is None
    else:
        assert report["labels"]["n"] == N


def test_replay_refuses_an_unknown_version_and_a_live_topic(
    stack: ServicesSettings, deployed: Deployed
) -> None:
    model, project = deployed.model, deployed.project
    services = ["--bootstrap", stack.kafka_bootstrap, "--triton-url", stack.triton_grpc_url]
    for args, message in (
        (["--model", f"{model}:77", "--to-topic", "x.replay"],
         f"{model}:77 is not in the model repository"),
        (["--model", model, "--to-topic", "predictions"], "is a live topic"),
    ):  # fmt: skip
        result = CliRunner().invoke(
            cli, ["replay", *RANGE, *args, *services], env={ENV_VAR: str(project.path)}
        )
        assert result.exit_code == 1, result.output
        assert message in result.output.replace("\n", " "), result.output

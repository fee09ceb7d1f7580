"""The live demo behind `make run`, short, on the test services; then the shadow report over
what it streamed, as the README tells a user to run it: `report shadow --since 10m`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from infra.settings import ServicesSettings
from streams.cli import cli
from streams.client import ClientSettings
from streams.simulation.demo import run_demo
from streams.topics import TopicNames, ensure_topics


def test_the_demo_streams_and_its_shadow_report_has_labels(
    stack: ServicesSettings, tmp_path: Path
) -> None:
    client = ClientSettings(kafka={"bootstrap": stack.kafka_bootstrap})
    ensure_topics(stack.kafka_bootstrap, TopicNames().specs())
    rate, seconds = 500.0, 6.0
    assert run_demo(stack, client, rate, seconds, seed=3, engine="librdkafka") == 0
    count = int(rate * seconds)

    result = CliRunner().invoke(
        cli,
        ["report", "shadow", "--since", "10m", "--out", str(tmp_path),
         "--bootstrap", stack.kafka_bootstrap],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["primary"], report["shadow"]) == ("scorer:1", "scorer:2")
    assert report["coverage"]["joined"] == count
    assert report["labels"]["n"] == count  # the demo sends every event's outcome
    assert report["recommendation"]["verdict"] in {"promote", "keep shadowing", "reject"}
    assert (tmp_path / "report.html").stat().st_size > 20_000

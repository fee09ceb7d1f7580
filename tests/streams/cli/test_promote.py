"""`streamscore models promote` as a gate, and what `models` says of models that do not exist,
on the real Kafka, Redis and Triton: shadow outputs with known labels decide the verdict."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from infra.settings import ServicesSettings
from streams.cli import cli
from streams.cli.promotion import promotions_key
from streams.routing import ModelRef, Routing, state
from streams.topics import TopicNames
from tests.support.kafka import create_topics
from tests.support.models import DEFAULT_MODEL, export_model, set_routing, stored_routing
from tests.support.projects import FRAUD
from tests.support.shadow import write_pairs

runner = CliRunner()
PROMOTIONS_KEY = promotions_key(FRAUD.name)  # the promotions of the default project


def invoke(stack: ServicesSettings, topics: TopicNames, *args: str) -> tuple[int, str]:
    url = f"redis://{stack.host}:{stack.redis_port}/0"
    services = ["--redis-url", url, "--triton-url", stack.triton_grpc_url]
    if args[:2] == ("models", "promote") or args[:2] == ("report", "shadow"):
        services = [*services, "--bootstrap", stack.kafka_bootstrap]
    if args[:2] == ("report", "shadow"):
        services = services[4:]
    env = {f"STREAMSCORE_TOPIC_{role.upper()}": name for role, name in topics}
    result = runner.invoke(cli, [*args, *services], env=env)
    return result.exit_code, result.output


def log_entries(stack: ServicesSettings) -> list[dict]:
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    try:
        return [json.loads(raw) for raw in client.lrange(PROMOTIONS_KEY, 0, -1)]
    finally:
        client.close()


@pytest.fixture
def shadowed(stack: ServicesSettings, topic_prefix: str) -> tuple[TopicNames, str]:
    """A candidate routed as the shadow of scorer:1, and a test's own topics."""
    candidate = export_model(stack, "gate-candidate", seed=41)
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1"), (ModelRef(candidate, "1"),)))
    topics = TopicNames().prefixed(topic_prefix)
    create_topics(stack.kafka_bootstrap, topics)
    return topics, f"{candidate}:1"


def test_a_rejected_candidate_is_refused_and_force_overrides(
    stack: ServicesSettings, shadowed: tuple[TopicNames, str]
) -> None:
    topics, candidate = shadowed
    recent = int(time.time() * 1000) - 600_000
    # labels follow the primary; the shadow adds 1/8 on a third of the events: clearly worse
    write_pairs(stack.kafka_bootstrap, topics, 3000, recent, shadow=candidate)
    code, out = invoke(stack, topics, "models", "promote", candidate, "--since", "1h")
    assert code == 1, out
    assert "refused: reject" in out and "log loss" in out and "--force" in out
    assert stored_routing(stack) == Routing(
        ModelRef(DEFAULT_MODEL, "1"), (ModelRef.parse(candidate),)
    )
    refused = log_entries(stack)[0]
    assert (refused["candidate"], refused["verdict"], refused["promoted"]) == (
        candidate, "reject", False,
    )  # fmt: skip

    code, out = invoke(stack, topics, "models", "promote", candidate, "--since", "1h", "--force")
    assert code == 0, out
    assert "FORCED promotion against the rule" in out and "log loss" in out
    assert stored_routing(stack) == Routing(
        ModelRef.parse(candidate), previous=ModelRef(DEFAULT_MODEL, "1")
    )
    forced = log_entries(stack)[0]
    assert (forced["forced"], forced["promoted"], forced["primary"]) == (True, True, "scorer:1")


def test_a_report_that_says_promote_lets_the_candidate_through(
    stack: ServicesSettings, shadowed: tuple[TopicNames, str], tmp_path: Path
) -> None:
    topics, candidate = shadowed
    recent = int(time.time() * 1000) - 600_000
    # labels follow the shadow's scores: the shadow is the better, calibrated model
    write_pairs(
        stack.kafka_bootstrap, topics, 6000, recent, shadow=candidate, labels_follow="shadow"
    )
    code, out = invoke(stack, topics, "report", "shadow", "--since", "1h", "--out", str(tmp_path))
    assert code == 0, out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["recommendation"]["verdict"] == "promote", report["recommendation"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**report, "shadow": "scorer:1"}))
    code, out = invoke(stack, topics, "models", "promote", candidate, "--report", str(other))
    assert code == 1 and "judges scorer:1, not" in out, out

    code, out = invoke(
        stack, topics, "models", "promote", candidate, "--report", str(tmp_path / "report.json")
    )
    assert code == 0, out
    assert stored_routing(stack) == Routing(
        ModelRef.parse(candidate), previous=ModelRef(DEFAULT_MODEL, "1")
    )
    assert log_entries(stack)[0]["verdict"] == "promote"


def test_models_that_do_not_exist_are_named_with_what_does(
    stack: ServicesSettings, topic_prefix: str
) -> None:
    topics = TopicNames().prefixed(topic_prefix)
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")))
    ghost = f"ghost{uuid.uuid4().hex[:4]}"
    for args, message in (
        (("models", "promote", ghost), f"no model '{ghost}' in the model repository; it has "),
        (("models", "shadow", "add", f"{ghost}:2"), f"no model '{ghost}'"),
        (("models", "promote", f"{DEFAULT_MODEL}:99"), "scorer:99 is not in the model repository"),
        (("models", "shadow", "add", f"{DEFAULT_MODEL}:99"), "scorer has versions 1"),
    ):
        code, out = invoke(stack, topics, *args)
        assert code == 1, (args, out)
        assert message in out.replace("\n", " "), (args, out)
        assert "StatusCode" not in out and "Traceback" not in out
        assert "scorer (versions 1" in out.replace("\n", " ") or "versions 1" in out
    assert stored_routing(stack) == Routing(ModelRef(DEFAULT_MODEL, "1"))


def test_list_shows_the_default_primary_when_no_routing_was_written(
    stack: ServicesSettings, topic_prefix: str
) -> None:
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    client.delete(state.routing_key(FRAUD.name))
    client.close()
    code, out = invoke(stack, TopicNames(), "models", "list")
    assert code == 0, out
    primary_rows = [line for line in out.splitlines() if "primary" in line]
    assert len(primary_rows) == 1 and DEFAULT_MODEL in primary_rows[0], out
    assert "default" in out

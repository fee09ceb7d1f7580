"""`streamscore models list | promote | shadow add | shadow remove` on the real Redis and
Triton: what each command stores as the routing, and what `list` shows of it."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from infra.settings import ServicesSettings
from streams.cli import cli
from streams.client import ClientSettings, RecordConsumer
from streams.routing import ModelRef, Routing
from streams.routing.state import Canary
from streams.topics import TopicSpec, ensure_topics
from tests.support.models import DEFAULT_MODEL, export_model, roles, set_routing, stored_routing

runner = CliRunner()
PRIMARY = ModelRef(DEFAULT_MODEL, "1")


@pytest.fixture(autouse=True)
def events_topic(stack: ServicesSettings) -> None:
    ensure_topics(stack.kafka_bootstrap, [TopicSpec(ClientSettings().topics.model_events, 1)])


def models(stack: ServicesSettings, *args: str) -> tuple[int, str]:
    url = f"redis://{stack.host}:{stack.redis_port}/0"
    options = ["--redis-url", url, "--triton-url", stack.triton_grpc_url]
    if args[0] in ("promote", "canary", "rollback"):  # they publish on models.events
        options += ["--bootstrap", stack.kafka_bootstrap]
    env = {"STREAMSCORE_MODEL_REPOSITORY": str(stack.model_repository)}  # its cards
    result = runner.invoke(cli, ["models", *args, *options], env=env)
    return result.exit_code, result.output


def test_shadow_add_list_and_remove_change_the_stored_routing(stack: ServicesSettings) -> None:
    candidate = export_model(stack, "cli-candidate", seed=31)
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")))

    code, out = models(stack, "shadow", "add", candidate)  # newest version when omitted
    assert code == 0, out
    assert "primary scorer:1; shadows cli-candidate:1" in out
    assert stored_routing(stack) == Routing(
        ModelRef(DEFAULT_MODEL, "1"), (ModelRef(candidate, "1"),)
    )
    code, out = models(stack, "list")
    assert code == 0, out
    listed = roles(out)
    assert listed[(DEFAULT_MODEL, "1")] == "primary"
    assert listed[(candidate, "1")] == "shadow"

    code, out = models(stack, "shadow", "remove", candidate)
    assert code == 0, out
    assert stored_routing(stack) == Routing(ModelRef(DEFAULT_MODEL, "1"))
    assert roles(models(stack, "list")[1])[(candidate, "1")] == ""


def test_promote_makes_the_primary_and_drops_it_from_the_shadows(stack: ServicesSettings) -> None:
    candidate = export_model(stack, "cli-candidate", seed=31)
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1"), (ModelRef(candidate, "1"),)))
    # it never shadowed any event: only --force promotes it (the gate: test_promote.py)
    code, out = models(stack, "promote", f"{candidate}:1", "--force")
    assert code == 0, out
    assert stored_routing(stack) == Routing(ModelRef(candidate, "1"), (), None, PRIMARY)

    code, out = models(stack, "rollback")  # no canary: the previous primary comes back
    assert code == 0, out
    assert "rolled back to scorer:1" in out
    assert stored_routing(stack) == Routing(PRIMARY)


def test_canary_moves_lists_and_rolls_back(stack: ServicesSettings) -> None:
    candidate = export_model(stack, "cli-candidate", seed=31)
    challenger = ModelRef(candidate, "1")
    set_routing(stack, Routing(PRIMARY, (challenger,)))

    code, out = models(stack, "canary", f"{candidate}:1", "--percent", "10")
    assert code == 0, out
    assert "canary cli-candidate:1 at 10%" in out
    assert stored_routing(stack) == Routing(PRIMARY, (challenger,), Canary(challenger, 10.0))
    code, out = models(stack, "canary", f"{candidate}:1", "--percent", "25")
    assert code == 0, out
    assert stored_routing(stack) == Routing(PRIMARY, (challenger,), Canary(challenger, 25.0))
    assert roles(models(stack, "list")[1])[(candidate, "1")] == "canary (25%), shadow"

    code, out = models(stack, "rollback")
    assert code == 0, out
    assert "canary cli-candidate:1 ended" in out
    assert stored_routing(stack) == Routing(PRIMARY, (challenger,))  # still a shadow

    said = [
        (e["kind"], e["model"], e["reason"], Routing.from_json(e["after"]))
        for e in model_events(stack)
        if e["model"] == str(challenger)
    ][-3:]
    assert said == [
        ("canary", str(challenger), "canary at 10% of entities",
         Routing(PRIMARY, (challenger,), Canary(challenger, 10.0))),
        ("canary", str(challenger), "canary at 25% of entities",
         Routing(PRIMARY, (challenger,), Canary(challenger, 25.0))),
        ("rollback", str(challenger), "operator: canary cli-candidate:1 ended",
         Routing(PRIMARY, (challenger,))),
    ]  # fmt: skip


def model_events(stack: ServicesSettings) -> list[dict[str, Any]]:
    config = ClientSettings(kafka={"bootstrap": stack.kafka_bootstrap})
    topic = config.topics.model_events
    read = RecordConsumer(
        config, topic, schema="model_event", from_beginning=True, until_end=True, timeout_s=10
    )
    return [r for r in read if isinstance(r, dict)]


def test_canary_and_rollback_refusals_are_one_line(stack: ServicesSettings) -> None:
    candidate = export_model(stack, "cli-candidate", seed=31)
    set_routing(stack, Routing(PRIMARY))
    for args, message in (
        (("canary", f"{candidate}:1", "--percent", "150"), "--percent must be within 0-100"),
        (("canary", f"{candidate}:1", "--percent", "-1"), "--percent must be within 0-100"),
        (("canary", f"{candidate}:9", "--percent", "5"), "is not loaded on Triton"),
        (("canary", "no-such-model:1", "--percent", "5"), "is not loaded on Triton"),
        (("canary", f"{DEFAULT_MODEL}:1", "--percent", "5"), "cannot also be its canary"),
        (("rollback",), "nothing to roll back"),
    ):
        code, out = models(stack, *args)
        assert code == 1, (args, out)
        assert message in out, (args, out)
        assert len(out.strip().splitlines()) == 1, out
    assert stored_routing(stack) == Routing(PRIMARY)


def test_refusals_name_what_is_wrong_and_change_nothing(stack: ServicesSettings) -> None:
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")))
    for args, message in (
        (("shadow", "add", "no-such-model"), "no model 'no-such-model'"),
        (("shadow", "add", f"{DEFAULT_MODEL}:1"), "is the primary"),
        (("shadow", "remove", "nothing-here"), "is not a shadow"),
        (("promote", "scorer:x"), "version must be a number"),
    ):
        code, out = models(stack, *args)
        assert code == 1, (args, out)
        assert message in out, (args, out)
    assert stored_routing(stack) == Routing(ModelRef(DEFAULT_MODEL, "1"))

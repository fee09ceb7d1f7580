"""`streamscore models add NAME --from PATH` on the real Kafka, Redis and Triton: a model
trained elsewhere becomes the next version, with its card and reference, and never changes
who decides.

Each test makes a fresh deployment of its own: a copy of the fraud example with a project
and a model name of its own (its own routing value, its own versions), version 1 trained the
way `streamscore up` trains it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import tritonclient.grpc as grpcclient
import yaml
from typer.testing import CliRunner

from inference.repository import ModelRepository
from inference.torchscript import save_torchscript
from inference.training import MLPParams, train_mlp
from infra.config import child_environment
from infra.settings import ServicesSettings
from schemas.project import Project, load_project
from streams.cli import cli
from streams.cli.services import store_primary
from streams.routing import ModelRef, Routing
from streams.simulation.starter import prepare
from streams.worker.settings import on_services
from tests.support.events import make_events
from tests.support.kafka import create_topics, predictions, produce_events
from tests.support.models import roles, stored_routing
from tests.support.projects import derived, labelled_dataset

runner = CliRunner()


def fresh(stack: ServicesSettings, tmp_path: Path, store: bool) -> Project:
    """A deployment nobody routed yet: its project, its model's version 1 on Triton; with
    ``store``, the primary stored as `up` stores it."""
    suffix = uuid.uuid4().hex[:6]
    base = yaml.safe_load(load_project(None).path.read_text())
    model = {**base["models"][0], "name": f"scorer-{suffix}"}
    changes = {
        "models": [model],
        "events": {"topic": f"events-{suffix}"},
        "simulation": {"starter_rows": 3000},  # a starter in a second
    }
    path = derived("fraud", tmp_path / "project", changes, name=f"fresh-{suffix}")
    project = load_project(path)
    assert prepare(project, ModelRepository(stack.model_repository)) == [(model["name"], 1)]
    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    triton.load_model(model["name"])  # as Triton's start loads every model of the folder
    triton.close()
    if store:
        routing = store_primary(on_services(stack, project=path))
        assert routing == Routing(ModelRef(model["name"], "1"))
    return project


def cli_run(stack: ServicesSettings, project: Project, *args: str) -> tuple[int, str]:
    env = child_environment(on_services(stack, project=project.path))
    result = runner.invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def torchscript_file(folder: Path, width: int, seed: int) -> Path:
    """An MLP trained elsewhere (here, on other data), saved as a TorchScript file."""
    x, y = labelled_dataset(seed, 3_000)
    model = train_mlp(x[:, :width], y, MLPParams(epochs=2, seed=seed)).model
    path = folder / f"trained-elsewhere-{width}.pt"
    save_torchscript(model, path)
    return path


def test_adding_a_version_never_changes_the_primary_nor_what_decides(
    stack: ServicesSettings, tmp_path: Path, start_worker: Any
) -> None:
    project = fresh(stack, tmp_path, store=True)
    name = project.default_model.name
    code, out = cli_run(stack, project, "models", "list")
    assert code == 0, out
    assert roles(out)[(name, "1")] == "primary"  # stored by `up`, not a default

    source = torchscript_file(tmp_path, project.layout.width, seed=41)
    code, out = cli_run(stack, project, "models", "add", name, "--from", str(source))
    assert code == 0, out
    assert f"added {name}:2 from {source}" in out
    assert f"the primary stays {name}:1" in out
    assert stored_routing(stack, project) == Routing(ModelRef(name, "1"))

    card = json.loads((Path(stack.model_repository) / name / "2" / "card.json").read_text())
    assert card["source"] == {"kind": "file", "path": str(source.resolve()),
                              "sha256": card["source"]["sha256"]}  # fmt: skip
    assert card["project"] == {"name": project.name, "sha256": project.sha256}
    # no events on the topic yet: said so, and no reference distributions
    assert "no events to sample" in out
    assert not (Path(stack.model_repository) / name / "2" / "reference.json").exists()

    code, out = cli_run(stack, project, "models", "list")
    listed = roles(out)
    assert (listed[(name, "1")], listed[(name, "2")]) == ("primary", "")

    code, out = cli_run(stack, project, "models", "shadow", "add", f"{name}:2")
    assert code == 0, out
    assert stored_routing(stack, project) == Routing(ModelRef(name, "1"), (ModelRef(name, "2"),))

    # Live: version 1 decides every event, version 2 only shadows.
    worker = start_worker(project=str(project.path), engine="librdkafka")
    create_topics(stack.kafka_bootstrap, worker.topics)
    events, _ = make_events(100, seed=4, entities=["acct-x", "acct-y"])
    produce_events(stack.kafka_bootstrap, worker.topics.events, events)
    decided = predictions(stack.kafka_bootstrap, worker.topics.predictions, 100)
    shadowed = predictions(stack.kafka_bootstrap, worker.topics.shadow, 100)
    assert {(p["model_version"], p["role"]) for p in decided} == {("1", "primary")}
    assert {(p["model_version"], p["role"]) for p in shadowed} == {("2", "shadow")}
    assert len(decided) == len(shadowed) == 100


def test_on_a_deployment_with_no_routing_the_primary_is_stored_before_the_add(
    stack: ServicesSettings, tmp_path: Path
) -> None:
    project = fresh(stack, tmp_path, store=False)
    name = project.default_model.name
    assert stored_routing(stack, project) is None
    code, out = cli_run(stack, project, "models", "list")
    assert roles(out)[(name, "1")] == "primary (default: no routing stored)"

    source = torchscript_file(tmp_path, project.layout.width, seed=43)
    code, out = cli_run(stack, project, "models", "add", name, "--from", str(source))
    assert code == 0, out
    # Version 2 is the newest ready version now, yet the primary is version 1: chosen and
    # stored before it came.
    assert stored_routing(stack, project) == Routing(ModelRef(name, "1"))
    code, out = cli_run(stack, project, "models", "shadow", "add", f"{name}:2")
    assert code == 0, out  # not "scorer:2 is the primary; it cannot also be a shadow"
    assert stored_routing(stack, project) == Routing(ModelRef(name, "1"), (ModelRef(name, "2"),))


def test_a_model_that_does_not_fit_the_inputs_is_refused_in_one_line(
    stack: ServicesSettings, tmp_path: Path
) -> None:
    project = fresh(stack, tmp_path, store=True)
    name = project.default_model.name
    source = torchscript_file(tmp_path, project.layout.width - 4, seed=45)
    code, out = cli_run(stack, project, "models", "add", name, "--from", str(source))
    assert code == 1
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    assert f"cannot take rows of {project.layout.width} inputs" in lines[0]
    assert ModelRepository(stack.model_repository).versions(name) == [1]  # nothing written


def test_a_reference_is_computed_from_recent_events(
    stack: ServicesSettings, tmp_path: Path
) -> None:
    project = fresh(stack, tmp_path, store=True)
    name = project.default_model.name
    settings = on_services(stack, project=project.path)
    create_topics(stack.kafka_bootstrap, settings.topics)
    events, _ = make_events(400, seed=7, entities=["acct-r1", "acct-r2"])
    produce_events(stack.kafka_bootstrap, settings.topics.events, events)
    source = torchscript_file(tmp_path, project.layout.width, seed=47)
    code, out = cli_run(stack, project, "models", "add", name, "--from", str(source))
    assert code == 0, out
    assert "reference distributions from 400 recent events" in out
    reference = ModelRepository(stack.model_repository).reference(name, 2)
    assert reference is not None
    assert reference.names == (*project.layout.columns, "score")
    assert int(reference.counts[0].sum()) == 400
    assert int(reference.counts[-1].sum()) == 400  # the score column: the file's own scores

"""The BACKWARD checker: real breaks are flagged, legal evolutions pass, and the repository's
schemas are checked against their released versions (schemas/released/) or a git revision;
so are the example projects' schemas, against the released/ folder beside their event
schema."""

from __future__ import annotations

import copy
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import fastavro
import pytest

from schemas.codec import SCHEMA_DIR, schema_names
from schemas.compat import check_backward, check_file, check_project, example_projects, main
from schemas.project import EXAMPLES
from tests.support.projects import FRAUD, derived

INNER = {
    "type": "record",
    "name": "Inner",
    "fields": [{"name": "x", "type": "int"}],
}

OLD: dict[str, Any] = {
    "type": "record",
    "name": "Thing",
    "namespace": "dev.test",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "count", "type": "int"},
        {"name": "ratio", "type": "float"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "inner", "type": INNER},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


def evolve(**changes: Any) -> dict[str, Any]:
    """OLD with fields replaced in place, appended (a new name) or dropped (None)."""
    new = copy.deepcopy(OLD)
    fields = {field["name"]: field for field in new["fields"]}
    for name, spec in changes.items():
        if spec is None:
            del fields[name]
        else:
            fields[name] = {"name": name, **(spec if isinstance(spec, dict) else {"type": spec})}
    new["fields"] = list(fields.values())
    return new


def inner_with(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": {**INNER, "fields": [*INNER["fields"], *fields]}}


COMPATIBLE = {
    "unchanged": {},
    "field added with default": {"extra": {"type": "double", "default": 0.0}},
    "field removed": {"ratio": None},
    "int to long": {"count": "long"},
    "int to double": {"count": "double"},
    "float to double": {"ratio": "double"},
    "string to bytes": {"id": "bytes"},
    "enum symbol added": {
        "kind": {"type": {"type": "enum", "name": "Kind", "symbols": list("ABC")}}
    },
    "union widened": {"note": {"type": ["null", "string", "int"], "default": None}},
    "plain type into a union": {"id": ["null", "string"]},
    "nested field added with default": {
        "inner": inner_with({"name": "y", "type": "int", "default": 1})
    },
    "array items promoted": {"tags": {"type": {"type": "array", "items": "bytes"}}},
    "field renamed with alias": {"count": None, "total": {"type": "int", "aliases": ["count"]}},
}

INCOMPATIBLE = {
    "field added without default": (
        {"extra": "double"},
        "Thing.extra: field added without a default",
    ),
    "string to int": ({"id": "int"}, "Thing.id: type string became int, not an Avro promotion"),
    "enum symbol removed": (
        {"kind": {"type": {"type": "enum", "name": "Kind", "symbols": ["A"]}}},
        "Thing.kind: enum symbols removed without a default: ['B']",
    ),
    "union narrowed": (
        {"note": "string"},
        "Thing.note: type null became string, not an Avro promotion",
    ),
    "nested field without default": (
        {"inner": inner_with({"name": "y", "type": "int"})},
        "Thing.inner.y: field added without a default",
    ),
    "record renamed": (
        {"inner": {"type": {**INNER, "name": "Other"}}},
        "Thing.inner: record dev.test.Inner became dev.test.Other without an alias",
    ),
    "millis to micros": (
        {"at": {"type": {"type": "long", "logicalType": "timestamp-micros"}}},
        "Thing.at: logical type timestamp-millis became timestamp-micros",
    ),
    "array items changed": (
        {"tags": {"type": {"type": "array", "items": "int"}}},
        "Thing.tags[]: type string became int, not an Avro promotion",
    ),
}


@pytest.mark.parametrize("case", sorted(COMPATIBLE))
def test_compatible_changes_pass(case: str) -> None:
    assert check_backward(evolve(**COMPATIBLE[case]), OLD) == []


@pytest.mark.parametrize("case", sorted(INCOMPATIBLE))
def test_incompatible_changes_are_named(case: str) -> None:
    changes, problem = INCOMPATIBLE[case]
    assert check_backward(evolve(**changes), OLD) == [problem]


def test_narrowing_is_flagged() -> None:
    assert check_backward(OLD, evolve(count="long")) == [
        "Thing.count: type long became int, not an Avro promotion"
    ]


def test_unknown_named_type_is_a_problem() -> None:
    broken = evolve(extra={"type": "Missing", "default": None})
    assert check_backward(broken, broken) == ["Thing.extra: unknown type dev.test.Missing"]


def test_recursive_schema_terminates() -> None:
    linked = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"], "default": None}],
    }
    assert check_backward(linked, linked) == []


@pytest.mark.parametrize("name", schema_names())
def test_repo_schema_is_backward_compatible_with_its_released_version(name: str) -> None:
    baseline, problems = check_file(SCHEMA_DIR / f"{name}.avsc")
    assert baseline == "the released version", f"{name}.avsc has no released version"
    assert problems == [], f"{name}.avsc against {baseline}"


# The schemas of each example project and what each is checked against.
EXAMPLE_CHECKS = {
    "fraud": [
        ("event", "dev.streamscore.Event", "the released version (event.avsc)"),
        (
            "entity_features",
            "dev.streamscore.EntityFeatures",
            "the released version (entity_features.avsc)",
        ),
        ("label", "dev.streamscore.Label", "the released version (label.avsc)"),
    ],
    "delivery": [
        ("event", "dev.streamscore.delivery.Order", "the released version (order.avsc)"),
        ("label", "dev.streamscore.delivery.Label", "itself (never released)"),
    ],
}


def test_every_example_project_is_checked() -> None:
    assert example_projects() == sorted(
        EXAMPLES / name / "streamscore.yaml" for name in EXAMPLE_CHECKS
    )


@pytest.mark.parametrize("example", sorted(EXAMPLE_CHECKS))
def test_example_project_schemas_are_backward_compatible_with_their_released_versions(
    example: str,
) -> None:
    checks = check_project(EXAMPLES / example / "streamscore.yaml")
    # The delivery example's features are generated (no file): nothing released to compare.
    assert [(what.split(": ", 1)[1].split(" (")[0], baseline) for what, baseline, _ in checks] == [
        (f"{role} schema {name}", baseline) for role, name, baseline in EXAMPLE_CHECKS[example]
    ]
    for what, baseline, problems in checks:
        assert problems == [], f"{what} against {baseline}"


def _event_schema(folder: Path) -> Path:
    return folder / "schemas" / "event.avsc"


def _edit_event(folder: Path, *fields: dict[str, Any]) -> None:
    path = _event_schema(folder)
    schema = json.loads(path.read_text())
    schema["fields"] += list(fields)
    path.write_text(json.dumps(schema))


def _problems(project: Path) -> list[str]:
    return [p for _, _, problems in check_project(project) for p in problems]


def test_a_project_edit_that_breaks_a_released_schema_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each edit in a copy of its own: a project is read once per version of its file.
    fine = derived("fraud", tmp_path / "fine")
    _edit_event(fine.parent, {"name": "channel", "type": "string", "default": "web"})
    assert _problems(fine) == []

    event = derived("fraud", tmp_path / "event")
    _edit_event(event.parent, {"name": "channel", "type": "string"})
    assert _problems(event) == ["Event.channel: field added without a default"]
    assert main(["--project", str(event)]) == 1
    assert "Event.channel: field added without a default" in capsys.readouterr().err

    features = derived("fraud", tmp_path / "features")
    path = features.parent / "schemas" / "entity_features.avsc"
    schema = json.loads(path.read_text())
    schema["fields"].insert(-1, {"name": "risk_band", "type": "int"})
    path.write_text(json.dumps(schema))
    assert _problems(features) == ["EntityFeatures.risk_band: field added without a default"]

    # The label schema is generated from the project file: a label type the released label
    # cannot turn into is a break too.
    label = derived("fraud", tmp_path / "label", {"labels": {"type": "boolean"}})
    assert _problems(label) == ["Label.label: type int became boolean, not an Avro promotion"]


def test_a_released_schema_the_project_no_longer_has_is_a_problem(tmp_path: Path) -> None:
    project = derived("delivery", tmp_path / "renamed")
    path = _event_schema(project.parent).with_name("order.avsc")
    schema = json.loads(path.read_text())
    path.write_text(json.dumps({**schema, "name": "Delivery"}))
    problems = _problems(project)
    assert problems == [
        "released/order.avsc: dev.streamscore.delivery.Order is none of the project's "
        "current schemas"
    ]


def test_a_project_that_does_not_load_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "streamscore.yaml").write_text("name: [\n")
    [(_, baseline, problems)] = check_project(tmp_path / "streamscore.yaml")
    assert baseline == "nothing"
    assert len(problems) == 1 and problems[0].startswith("does not load:")


def test_main_checks_the_bundled_schemas_and_every_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(schema_names()) + sum(map(len, EXAMPLE_CHECKS.values()))
    assert all(": ok, checked against " in line for line in lines)
    assert any("examples/fraud/streamscore.yaml: label schema dev.streamscore.Label" in line
               for line in lines)  # fmt: skip


def test_an_edit_that_breaks_the_released_version_fails(tmp_path: Path) -> None:
    released = tmp_path / "released"
    released.mkdir()
    (released / "thing.avsc").write_text(json.dumps(OLD))
    current = tmp_path / "thing.avsc"
    current.write_text(json.dumps(evolve(extra={"type": "int", "default": 0})))
    assert check_file(current, released=released) == ("the released version", [])
    current.write_text(json.dumps(evolve(extra="int")))
    assert check_file(current, released=released) == (
        "the released version",
        ["Thing.extra: field added without a default"],
    )
    current.write_text(json.dumps(OLD))
    assert check_file(tmp_path / "thing.avsc", released=tmp_path / "none") == (
        "itself (never released)",
        [],
    )


def _git(cwd: Path, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    (tmp_path / "thing.avsc").write_text(json.dumps(OLD))
    _git(tmp_path, "add", "thing.avsc")
    _git(tmp_path, "commit", "-q", "-m", "v1")
    return tmp_path


def test_git_check_passes_a_compatible_edit(repo: Path) -> None:
    (repo / "thing.avsc").write_text(json.dumps(evolve(extra={"type": "int", "default": 0})))
    assert check_file(repo / "thing.avsc", "HEAD") == ("HEAD", [])


def test_git_check_fails_an_incompatible_edit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo / "thing.avsc"
    path.write_text(json.dumps(evolve(extra="int")))
    assert main([str(path), "--against", "HEAD"]) == 1
    assert f"{path}: Thing.extra: field added without a default" in capsys.readouterr().err


def test_uncommitted_file_is_still_parsed_and_self_checked(tmp_path: Path) -> None:
    path = tmp_path / "new.avsc"
    path.write_text(json.dumps(FRAUD.schema("event")))
    assert check_file(path, "HEAD") == ("itself (not committed yet)", [])
    path.write_text('{"type": "record", "name": "Broken", "fields": [{"name": "x"}]}')
    baseline, problems = check_file(path)
    assert baseline == "nothing"
    assert len(problems) == 1
    assert problems[0].startswith("does not parse")
    assert main([str(path)]) == 1


OLD_RECORD = {
    "id": "x",
    "count": 3,
    "ratio": 0.5,
    "note": None,
    "kind": "B",
    "tags": ["t"],
    "inner": {"x": 1},
    "at": 1714564800123,
}


def _resolve(reader: dict[str, Any], writer: dict[str, Any], record: dict[str, Any]) -> Any:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(writer), record)
    body.seek(0)
    return fastavro.schemaless_reader(
        body, fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    )


@pytest.mark.parametrize("case", sorted(COMPATIBLE))
def test_fastavro_agrees_compatible_changes_resolve(case: str) -> None:
    _resolve(evolve(**COMPATIBLE[case]), OLD, OLD_RECORD)


@pytest.mark.parametrize("case", sorted(set(INCOMPATIBLE) - {"millis to micros"}))
def test_fastavro_agrees_incompatible_changes_fail(case: str) -> None:
    # millis to micros is left out: Avro resolves it silently, which is why we flag it.
    with pytest.raises(Exception):  # noqa: B017 - fastavro signals this in several ways
        _resolve(evolve(**INCOMPATIBLE[case][0]), OLD, OLD_RECORD)

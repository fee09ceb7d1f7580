"""A project file that cannot be used is ONE line naming the file, the line and the key.

Each case copies the fraud example, breaks one thing in its text, and checks the error:
where it is (the line of the offending key in the copy), which key, and what is wrong. The
CLI side (exit status 2, nothing started) is tests/schemas/project/test_cli_errors.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schemas.project import EXAMPLES, ProjectError, load_project, project_path


def broken(tmp_path: Path, old: str, new: str, example: str = "fraud") -> Path:
    """A copy of ``example`` with ``old`` replaced by ``new`` (once) in its streamscore.yaml."""
    folder = tmp_path / example
    shutil.copytree(EXAMPLES / example, folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "streamscore.yaml"
    text = path.read_text()
    assert old in text, f"the example no longer holds {old!r}"
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the first line holding ``needle``."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def error_of(path: Path) -> ProjectError:
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    message = str(caught.value)
    assert "\n" not in message, "an error is one line"
    return caught.value


@pytest.mark.parametrize("example", ["fraud", "delivery"])
def test_the_examples_load(example: str) -> None:
    project = load_project(EXAMPLES / example)
    assert project.name == example
    assert project.layout.width == len(project.layout.columns) > 0


def test_a_folder_means_its_file_and_the_default_is_fraud() -> None:
    assert project_path(EXAMPLES / "delivery") == EXAMPLES / "delivery" / "streamscore.yaml"
    assert load_project(None).name == "fraud"


def test_a_yaml_syntax_error_names_its_line_and_key(tmp_path: Path) -> None:
    path = broken(tmp_path, "  topic: events\n", "  topic: [events\n")
    err = error_of(path)
    assert (err.file, err.line, err.key) == (path, line_of(path, "topic: [events"), "events.topic")
    assert "not valid YAML" in err.message


def test_a_field_the_schema_lacks(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "{name: amount, from: event, default: 0.0}",
        "{name: amount, field: amount_usd, from: event, default: 0.0}",
    )
    err = error_of(path)
    assert (err.line, err.key) == (line_of(path, "amount_usd"), "inputs[0].field")
    assert "has no field 'amount_usd'" in err.message
    assert str(err).startswith(f"{path}:{err.line}: inputs[0].field: ")


def test_an_unknown_input_type(tmp_path: Path) -> None:
    path = broken(tmp_path, "type: boolean, default: false", "type: flag, default: false")
    err = error_of(path)
    assert (err.line, err.key) == (line_of(path, "type: flag"), "inputs[4].type")
    assert "'numeric', 'boolean' or 'categorical'" in err.message


def test_a_categorical_input_without_a_vocabulary(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "  - {name: avg_amount_30d, from: feature}",
        "  - {name: segment, from: event, type: categorical, default: retail, unknown: other}\n"
        "  - {name: avg_amount_30d, from: feature}",
    )
    err = error_of(path)
    assert (err.line, err.key) == (line_of(path, "name: segment"), "inputs[8].vocabulary")
    assert "needs a vocabulary" in err.message


def test_a_model_whose_tensor_width_differs_from_the_inputs(tmp_path: Path) -> None:
    path = broken(tmp_path, "input: {name: features}", "input: {name: features, dims: [15]}")
    err = error_of(path)
    assert (err.line, err.key) == (line_of(path, "dims: [15]"), "models[0].input.dims")
    assert "takes [15] but the inputs make 16 columns" in err.message


def test_an_onnx_source_whose_width_differs_is_refused(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["features"], ["score"])],
        "wrong",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 7])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 7])],
    )
    model = helper.make_model(graph)
    path = broken(tmp_path, "    # no source:", "    source: wrong.onnx\n    # no source:")
    onnx.save(model, str(path.parent / "wrong.onnx"))
    err = error_of(path)
    assert (err.line, err.key) == (line_of(path, "source: wrong.onnx"), "models[0].source")
    assert "takes 7 inputs per row but the inputs make 16 columns" in err.message


def test_a_project_file_that_is_not_there(tmp_path: Path) -> None:
    err = error_of(tmp_path / "nowhere" / "streamscore.yaml")
    assert err.line == 0 and err.message == "no such project file"


@pytest.mark.parametrize(
    ("old", "new", "key", "wanted"),
    [
        ("  psi_threshold: 0.2", "  psi_treshold: 0.2", "drift.psi_treshold", "unknown key"),
        ("segment: segment ", "segment: amount ", "events.segment", "is a double"),
        ("ttl: 2d", "ttl: two days", "features.ttl", "not a duration"),
        (
            "type: int                 #",
            "type: string                 #",
            "labels.type",
            "a binary project's labels are",
        ),
        (
            "thresholds: {review: 0.3, decline: 0.7}",
            "thresholds: {review: 0.3, decline: 7}",
            "models[0].decisions.thresholds.decline",
            "a probability in [0, 1]",
        ),
        (
            "positive: decline",
            "positive: block",
            "models[0].decisions.positive",
            "none of the decisions",
        ),
        ("golden: golden.jsonl", "golden: missing.jsonl", "gates.golden", "no such file"),
        (
            "{name: items, from: event, default: 1, valid: [0, null]}",
            "{name: items, from: event, valid: [0, null]}",
            "inputs[1]",
            "needs a default",
        ),
        (
            "  - {name: avg_amount_30d, from: feature}",
            "  - {name: avg_amount_30d, from: feature, default: 3}",
            "inputs[8].default",
            "the feature view's",
        ),
    ],
)
def test_more_mistakes_are_named(tmp_path: Path, old: str, new: str, key: str, wanted: str) -> None:
    path = broken(tmp_path, old, new)
    err = error_of(path)
    assert err.key == key
    assert wanted in err.message
    assert err.line == line_of(path, new.split("\n")[0]), str(err)


def test_two_models_of_different_tasks_are_refused(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "labels:\n",
        "  - {name: minutes, task: regression}\n\nlabels:\n",
    )
    err = error_of(path)
    assert (err.line, err.key) == (line_of(path, "task: regression"), "models[1].task")
    assert "the task of the first (binary)" in err.message

"""Bad project files at the command line: one line naming the file, the line and the key,
exit status 2, and nothing started (real `streamscore` processes, no service needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import ENV_PREFIX
from tests.schemas.project.test_loading import broken, line_of

CASES = {
    "yaml syntax": ("  topic: events\n", "  topic: [events\n", "topic: [events", "events.topic"),
    "field the schema lacks": (
        "{name: amount, from: event, default: 0.0}",
        "{name: amount, field: amount_usd, from: event, default: 0.0}",
        "amount_usd",
        "inputs[0].field",
    ),
    "unknown input type": (
        "type: boolean, default: false",
        "type: flag, default: false",
        "type: flag",
        "inputs[4].type",
    ),
    "categorical without vocabulary": (
        "  - {name: avg_amount_30d, from: feature}",
        "  - {name: segment, from: event, type: categorical, default: x, unknown: other}\n"
        "  - {name: avg_amount_30d, from: feature}",
        "name: segment",
        "inputs[8].vocabulary",
    ),
    "tensor width": (
        "input: {name: features}",
        "input: {name: features, dims: [15]}",
        "dims: [15]",
        "models[0].input.dims",
    ),
    "trainer does not import": (
        "trainer: trainer:train",
        "trainer: missing_module:train",
        "missing_module",
        "retraining.trainer",
    ),
}


def streamscore(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
    env |= {"STREAMSCORE_STATE_DIR": str(state), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_project_check_names_the_file_the_line_and_the_key(case: str, tmp_path: Path) -> None:
    old, new, needle, key = CASES[case]
    path = broken(tmp_path, old, new)
    done = streamscore("project", "check", "--project", str(path), state=tmp_path / "state")
    assert done.returncode == 2, done.stdout + done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(f"error: {path}:{line_of(path, needle)}: {key}: "), errors[0]


def test_a_project_file_that_is_not_there(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    done = streamscore("worker", "--project", str(missing), state=tmp_path / "state")
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {missing}: no such project file"


@pytest.mark.parametrize(
    ("case", "command"),
    [
        ("field the schema lacks", ["worker"]),
        ("tensor width", ["drift", "agent"]),
        ("trainer does not import", ["retrain", "worker"]),
        ("trainer does not import", ["up"]),
        ("yaml syntax", ["up"]),
    ],
)
def test_a_bad_project_starts_nothing(case: str, command: list[str], tmp_path: Path) -> None:
    old, new, needle, key = CASES[case]
    path = broken(tmp_path, old, new)
    state = tmp_path / "state"
    done = streamscore(*command, "--project", str(path), state=state)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f":{line_of(path, needle)}: {key}: " in lines[0], done.stderr
    # `up` would have made its state folder and each service's; nothing was made.
    assert not state.exists() or not any(state.iterdir())
    assert done.stdout == ""

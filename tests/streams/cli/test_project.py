"""`streamscore project check` and `streamscore init` on the bundled examples (no service):
what check prints of a project (its inputs in order, its models with their tasks and tensors,
their decisions), that it says so when no Triton answers, and that init writes a project
check accepts, into a new folder only. Bad project files: tests/schemas/project/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.process import free_port
from schemas.project import DEFAULT_PROJECT, ENV_VAR, EXAMPLES, load_project
from streams.cli import cli

runner = CliRunner()
REPO = Path(__file__).resolve().parents[3]

# What each example's check prints: its inputs in order (a categorical input is one row of
# its one-hot columns), its models, their tasks and tensors, their decisions.
EXPECTED = {
    "fraud": {
        "inputs": [
            "amount", "items", "session_seconds", "distance_km", "is_foreign", "hour_of_day",
            "device_age_days", "merchant_risk", "avg_amount_30d", "txn_count_7d",
            "txn_count_24h", "chargeback_rate_90d", "account_age_days",
            "distinct_merchants_30d", "failed_logins_7d", "avg_distance_km_30d",
        ],
        "lines": [
            "project fraud (",
            "inputs: 16 columns, in order",
            "models scorer: binary (legit, fraud); features [-1, 16] → score [-1, 1]",
            "decisions: approve < 0.3 ≤ review < 0.7 ≤ decline (positive: decline)",
            "labels topic 'labels', field label (int)",
            "trainer trainer:train with {'epochs': 8,",
        ],
    },
    "delivery": {
        "inputs": [
            "distance_km", "items", "channel=web … channel=other (4)", "is_express", "hour",
            "tip", "avg_speed_kmh", "deliveries_today", "rating", "active_orders",
        ],
        "lines": [
            "project delivery (",
            "inputs: 13 columns, in order",
            "models eta: regression; features [-1, 13] → minutes [-1, 1]",
            "decisions: fast < 25 ≤ normal < 45 ≤ late",
            "labels topic 'delivery.times', field minutes (double)",
            "trainer trainer:train with {'n_estimators': 120,",
        ],
    },
}  # fmt: skip


@pytest.fixture(autouse=True)
def own_project_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--project` sets STREAMSCORE_PROJECT in the process: put it back after each test."""
    monkeypatch.setenv(ENV_VAR, str(DEFAULT_PROJECT))


def no_triton() -> str:
    """An address where no Triton answers."""
    return f"127.0.0.1:{free_port()}"


def input_rows(output: str) -> list[str]:
    """The column cells of the inputs table, in the order printed."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 3 and cells[0].isdigit():
            rows.append(cells[1])
    return rows


def check(project: Path) -> tuple[int, str]:
    args = ["project", "check", "--project", str(project), "--triton-url", no_triton()]
    result = runner.invoke(cli, args)
    return result.exit_code, result.output


def assert_checked(output: str, example: str) -> None:
    expected = EXPECTED[example]
    assert input_rows(output) == expected["inputs"], output
    flat = " ".join(output.split())
    for line in expected["lines"]:
        assert line in flat, (line, output)
    assert "tensors not checked on the server" in flat, output
    assert "ok: the project and everything it names check out" in flat, output


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_check_prints_the_inputs_models_tasks_and_decisions(example: str) -> None:
    code, output = check(EXAMPLES / example)
    assert code == 0, output
    assert_checked(output, example)
    assert f"({EXAMPLES / example / 'streamscore.yaml'})" in output


def test_check_as_a_command_without_triton() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSCORE_")}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "project", "check", "--project",
         "examples/delivery", "--triton-url", no_triton()],
        cwd=REPO, env={**env, "COLUMNS": "160"}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert_checked(output, "delivery")
    assert "triton 127.0.0.1:" in " ".join(output.split())


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_init_writes_a_project_that_check_accepts(tmp_path: Path, example: str) -> None:
    folder = tmp_path / "mine"
    result = runner.invoke(cli, ["init", str(folder), "--example", example])
    assert result.exit_code == 0, result.output
    assert f"wrote the {example} example to {folder}" in result.output
    assert f"next: streamscore project check --project {folder}" in result.output
    written = load_project(folder)
    source = load_project(EXAMPLES / example)
    assert (written.name, written.layout.hash) == (source.name, source.layout.hash)
    assert written.path == folder / "streamscore.yaml"
    assert not list(folder.rglob("__pycache__"))
    code, output = check(folder)
    assert code == 0, output
    assert_checked(output, example)
    assert f"({folder / 'streamscore.yaml'})" in output


def test_init_into_a_folder_that_is_not_empty_fails_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = runner.invoke(cli, ["init", str(folder), "--example", "delivery"])
    assert result.exit_code == 1, result.output
    assert f"{folder} is not empty" in result.output
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("variable", "moved"),
    [
        ("STREAMSCORE_REVIEW_THRESHOLD", "models[].decisions"),
        ("STREAMSCORE_DECLINE_THRESHOLD", "models[].decisions"),
        ("STREAMSCORE_DEFAULT_MODEL", "models[0].name"),
    ],
)
@pytest.mark.parametrize("command", [["project", "check"], ["models", "list"]])
def test_a_setting_the_project_file_replaced_is_refused_not_ignored(
    monkeypatch: pytest.MonkeyPatch, variable: str, moved: str, command: list[str]
) -> None:
    """Set, the old variable would change nothing any more: say so and where it went, in one
    line, exit 2, before the command touches anything."""
    monkeypatch.setenv(variable, "0.5")
    result = runner.invoke(cli, [*command, "--triton-url", no_triton()])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {variable} is set but no longer read: "), lines[0]
    assert moved in lines[0]

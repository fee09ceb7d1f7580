"""The guard's settings: documented with their defaults, and a variable shared with the
scoring worker means the same to both (one environment runs them all)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from schemas.project import EXAMPLES
from streams.guard.settings import GuardSettings
from streams.worker.settings import WorkerSettings
from tests.support.projects import derived

REPO = Path(__file__).resolve().parents[3]
WORKER = dict(WorkerSettings.variables())
OWN = {name: field for name, field in GuardSettings.variables() if name not in WORKER}


@pytest.mark.parametrize("name", sorted(OWN))
def test_the_architecture_doc_lists_every_guard_variable_with_its_default(name: str) -> None:
    doc = (REPO / "docs" / "architecture.md").read_text()
    section = doc[doc.index("## Canary guard and live quality") :]
    rows = [line for line in section.splitlines() if f"| `{name}` |" in line]
    assert rows, f"docs/architecture.md, Canary guard: no row for {name}"
    assert OWN[name].description
    default = OWN[name].default
    shown = str(default).lower() if isinstance(default, bool) else str(default)
    assert f"| `{shown}` |" in rows[0], f"{name}: default {shown}"


def test_a_shared_variable_means_the_same_as_for_a_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = [name for name, _ in GuardSettings.variables() if name in WORKER]
    # The decision thresholds are the project's: one variable names it for both.
    assert "STREAMSCORE_PROJECT" in shared
    for name, field in GuardSettings.variables():
        if name in WORKER:
            assert field.description == WORKER[name].description, name
    models = yaml.safe_load((EXAMPLES / "fraud" / "streamscore.yaml").read_text())["models"]
    models[0]["decisions"]["thresholds"] = {"review": 0.2, "decline": 0.9}
    monkeypatch.setenv("STREAMSCORE_PROJECT", str(derived("fraud", tmp_path, {"models": models})))
    guard, worker = GuardSettings().use_case(), WorkerSettings().use_case()
    assert guard.decider("scorer") == worker.decider("scorer")
    assert guard.decider("scorer").bounds == (0.2, 0.9)


def test_the_guard_keeps_its_own_group_and_port() -> None:
    settings = GuardSettings()
    assert settings.guard.app_id != WorkerSettings().app_id
    assert settings.guard.metrics_port == 9103

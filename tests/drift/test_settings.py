"""The drift agent's and the retraining worker's settings: documented, with their defaults,
and never a variable that a scoring worker reads for something else."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic.fields import FieldInfo

from drift.settings import DriftAgentSettings
from infra.settings import ServicesSettings
from streams.retraining.settings import RetrainingSettings
from streams.worker.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[2]
WORKER = dict(WorkerSettings.variables())
SERVICES = dict(ServicesSettings.variables())
OWN = {
    name: field
    for cls in (DriftAgentSettings, RetrainingSettings)
    for name, field in cls.variables()
    if name not in WORKER
}


def _default(field: FieldInfo) -> str | None:
    value = None if field.default_factory is not None else field.default
    return None if value is None else str(value)


@pytest.mark.parametrize("name", sorted(OWN))
def test_docs_drift_lists_every_variable_with_its_default(name: str) -> None:
    doc = (REPO / "docs" / "drift.md").read_text()
    rows = [line for line in doc.splitlines() if f"| `{name}` |" in line]
    assert rows, f"docs/drift.md has no row for {name}"
    assert OWN[name].description
    default = _default(OWN[name])
    if default is not None:
        assert f"| {default.lower()} |" in rows[0].lower(), f"docs/drift.md: {name} {default}"


@pytest.mark.parametrize("cls", [DriftAgentSettings, RetrainingSettings])
def test_a_shared_variable_means_the_same_to_every_deployable(cls: type) -> None:
    """A variable the scoring worker (or `streamscore up`) also reads must be the same
    setting, so that one environment can run them all (an app id of its own, for one)."""
    for name, field in cls.variables():
        other = WORKER.get(name) or SERVICES.get(name)
        if other is not None:
            assert field.description == other.description or name.endswith("MODEL_REPOSITORY"), (
                f"{cls.__name__} reads {name} as something else: {field.description!r}"
            )

"""docs/project.md documents every key of the project file, and every setting a project
section gives is a variable some deployable reads: neither can go stale."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from drift.settings import DriftAgentSettings
from schemas.project.spec import DriftSpec, GatesSpec, ProjectSpec, RetrainingSpec
from streams.guard.settings import GuardSettings
from streams.report.settings import ReportSettings
from streams.retraining.settings import RetrainingSettings
from streams.worker.settings import WorkerSettings
from tests.support.projects import FRAUD

DOC = (Path(__file__).resolve().parents[3] / "docs" / "project.md").read_text()
DEPLOYABLES = (WorkerSettings, DriftAgentSettings, RetrainingSettings, GuardSettings,
               ReportSettings)  # fmt: skip


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through unions, lists, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _keys(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    if model in seen:
        return set()
    seen.add(model)
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        for inner in _models(field.annotation):
            keys |= _keys(inner, seen)
    return keys


def test_every_key_of_the_file_is_in_the_docs() -> None:
    missing = sorted(k for k in _keys(ProjectSpec, set()) if f"`{k}`" not in DOC)
    assert not missing, f"docs/project.md does not document: {', '.join(missing)}"


def test_every_setting_a_project_gives_is_read_by_a_deployable() -> None:
    read = {var for settings in DEPLOYABLES for var, _ in settings.variables()}
    spec = FRAUD.spec
    every = spec.model_copy(update={
        "drift": DriftSpec(**dict.fromkeys(DriftSpec.model_fields, 1)),
        "gates": GatesSpec(**dict.fromkeys(set(GatesSpec.model_fields) - {"golden"}, 1)),
        "retraining": RetrainingSpec(
            trainer="trainer:train", holdout_share=0.3, lookback_s=60.0, seed=1, every="1h"
        ),
    })  # fmt: skip
    given = type(FRAUD)(every, *[getattr(FRAUD, f) for f in FRAUD.__slots__[1:]])
    unread = sorted(set(given.setting_defaults()) - read)
    assert not unread, f"no deployable reads {', '.join(unread)}"
    assert len(given.setting_defaults()) > 25

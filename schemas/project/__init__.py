"""The project: what one use case is, read from ``streamscore.yaml`` (docs/project.md).

spec.py        the file's keys as pydantic models
yaml_lines.py  YAML read with the line of every key, for errors that say where
loading.py     load_project(): check the file and everything it names; ProjectError
project.py     Project: the checked result every deployable asks about the use case
avro.py        field kinds of the event schema; the feature and label schemas it generates
layout.py      InputLayout: the inputs compiled into the model's float32 columns
decisions.py   Decider: a model's outputs to a score and a decision, by its task
records.py     validators of the project's records for the CLI and the SDK
"""

from schemas.project.decisions import Decider
from schemas.project.layout import FieldColumns, InputLayout
from schemas.project.loading import (
    DEFAULT_PROJECT,
    ENV_VAR,
    EXAMPLES,
    ProjectError,
    load_project,
    project_path,
)
from schemas.project.project import Project

__all__ = [
    "DEFAULT_PROJECT",
    "ENV_VAR",
    "EXAMPLES",
    "Decider",
    "FieldColumns",
    "InputLayout",
    "Project",
    "ProjectError",
    "load_project",
    "project_path",
]

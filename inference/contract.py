"""The one model contract every scorer implements (Triton-backed, or the fakes in tests).

Rows go in as a float32 matrix in the project's input layout (schemas/project/layout.py);
the model's outputs come out, one row per input row: one value (a binary model's positive
probability, a regression's value) or one column per output (a multiclass model's class
probabilities). The model's decider (schemas/project/decisions.py) reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from schemas.project import Project


@dataclass(frozen=True, slots=True)
class Tensors:
    """A model's tensors as the project names them: input rows of ``width`` float32 values,
    output rows of ``columns`` values."""

    input: str
    width: int
    output: str
    columns: int


class Model(Protocol):
    name: str
    version: str

    @property
    def ready(self) -> bool: ...

    async def load(self) -> None:
        """Make the model usable; raises InferenceError when it cannot be."""

    async def predict(self, batch: np.ndarray) -> np.ndarray:
        """Outputs of shape (n,) or (n, columns) for ``batch`` of shape (n, width); one
        request."""

    async def unload(self) -> None: ...


def tensors_of(project: Project, model: str) -> Tensors:
    """Model ``model``'s tensors by the project: its entry's names, the layout's width, the
    output's declared dims or else the task's width (a model the file does not name is read
    with the first model's entry)."""
    spec = project.model(model)
    dims = spec.output.dims
    columns = dims[-1] if dims else project.decider(model).width
    return Tensors(spec.input.name, project.layout.width, spec.output.name, columns)

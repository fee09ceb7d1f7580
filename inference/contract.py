"""The one model contract every scorer implements (Triton-backed, or the fakes in tests).

Rows go in as a float32 matrix in ``schemas.features.FEATURE_NAMES`` order; one probability
per row comes out.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Model(Protocol):
    name: str
    version: str

    @property
    def ready(self) -> bool: ...

    async def load(self) -> None:
        """Make the model usable; raises InferenceError when it cannot be."""

    async def predict(self, batch: np.ndarray) -> np.ndarray:
        """Scores of shape (n,) for ``batch`` of shape (n, N_FEATURES); one request."""

    async def unload(self) -> None: ...

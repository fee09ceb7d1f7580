"""Errors of the model-serving path: a branch of the one tree in infra/errors.py.

    StreamScoreError
    └── InferenceError            a model could not score a batch (never the batch's fault)
        ├── ModelUnavailableError  the server or the model version is down / not loaded
        ├── ModelTimeoutError      no answer within the per-model timeout
        └── CircuitOpenError       the breaker is open: the call was not even tried

tritonclient's exceptions are translated into these in inference/triton_client.py only.
"""

from __future__ import annotations

from infra.errors import StreamScoreError


class InferenceError(StreamScoreError):
    def __init__(self, model: str, message: str) -> None:
        super().__init__(f"{model}: {message}")
        self.model = model


class ModelUnavailableError(InferenceError):
    pass


class ModelTimeoutError(InferenceError):
    pass


class CircuitOpenError(InferenceError):
    pass

"""A model served by Triton, called over gRPC (asyncio) with a timeout and a circuit breaker.

One ``predict`` is ONE Triton request for the whole batch. tritonclient exceptions are
translated to the InferenceError tree here and nowhere else.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
from pydantic import Field
from tritonclient.utils import InferenceServerException

from inference.breaker import CircuitBreaker
from inference.errors import (
    CircuitOpenError,
    InferenceError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from infra.config import Section, env_name
from schemas.features import INPUT_TENSOR, N_FEATURES, OUTPUT_TENSOR


class TritonConfig(Section):
    """Where Triton is, how long a model may take, and when its breaker opens."""

    env_prefix: ClassVar[str] = "TRITON_"

    grpc_url: str = Field("127.0.0.1:8001", description="Triton gRPC address.")
    ssl: bool = Field(False, description="Use TLS to reach Triton.")
    root_certificates: str | None = Field(None, description="CA file for Triton TLS.")
    timeout_s: float = Field(1.0, gt=0, description="Per-request timeout per model.")
    breaker_failures: int = Field(
        3,
        ge=1,
        description="Failures in a row that open a model's breaker.",
        json_schema_extra=env_name("BREAKER_FAILURES"),
    )
    breaker_reset_s: float = Field(
        2.0,
        gt=0,
        description="Open time before a trial call.",
        json_schema_extra=env_name("BREAKER_RESET_S"),
    )

    def client(self) -> grpcclient.InferenceServerClient:
        """A blocking gRPC client (the CLI's)."""
        return grpcclient.InferenceServerClient(
            self.grpc_url, ssl=self.ssl, root_certificates=self.root_certificates
        )

    def async_client(self) -> grpcaio.InferenceServerClient:
        """An asyncio gRPC client (one channel; share it between models)."""
        return grpcaio.InferenceServerClient(
            self.grpc_url, ssl=self.ssl, root_certificates=self.root_certificates
        )


class TritonModel:
    """One model version on a Triton server. Shares the gRPC channel it is given."""

    def __init__(
        self,
        client: grpcaio.InferenceServerClient,
        name: str,
        version: str,
        config: TritonConfig,
    ) -> None:
        self.client = client
        self.name = name
        self.version = version
        self.config = config
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_s)
        self._ready = False
        self._output = grpcaio.InferRequestedOutput(OUTPUT_TENSOR)

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"

    async def load(self) -> None:
        try:
            ok = await self.client.is_model_ready(
                self.name, self.version, client_timeout=self.config.timeout_s
            )
        except InferenceServerException as exc:
            raise _translate(self.label, exc) from exc
        if not ok:
            raise ModelUnavailableError(self.label, "not loaded on the Triton server")
        self._ready = True

    async def predict(self, batch: np.ndarray) -> np.ndarray:
        if batch.ndim != 2 or batch.shape[1] != N_FEATURES:
            raise ValueError(f"batch must be (n, {N_FEATURES}), got {batch.shape}")
        if not self.breaker.allow():
            raise CircuitOpenError(self.label, "circuit open after repeated failures")
        tensor = grpcaio.InferInput(INPUT_TENSOR, list(batch.shape), "FP32")
        tensor.set_data_from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        try:
            result = await self.client.infer(
                self.name,
                [tensor],
                model_version=self.version,
                outputs=[self._output],
                client_timeout=self.config.timeout_s,
            )
        except InferenceServerException as exc:
            self.breaker.record_failure()
            self._ready = False
            raise _translate(self.label, exc) from exc
        self.breaker.record_success()
        self._ready = True
        scores = result.as_numpy(OUTPUT_TENSOR)
        if scores is None or len(scores) != len(batch):
            self.breaker.record_failure()
            raise ModelUnavailableError(self.label, "answer has the wrong number of scores")
        return scores.reshape(-1)

    async def unload(self) -> None:
        self._ready = False


def _translate(label: str, exc: InferenceServerException) -> InferenceError:
    status = str(exc.status() or "")
    if "DEADLINE_EXCEEDED" in status or "Deadline" in str(exc):
        return ModelTimeoutError(label, "no answer within the timeout")
    return ModelUnavailableError(label, exc.message() or str(exc))

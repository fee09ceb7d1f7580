"""A model served by Triton, called over gRPC (asyncio) with a timeout and a circuit breaker.

One ``predict`` is ONE Triton request for the whole batch. tritonclient exceptions are
translated to the InferenceError tree here and nowhere else.

A server started with a model-control key (``STREAMSCORE_TRITON_ADMIN_KEY``) refuses the
model-repository protocol (load, unload, the repository index) to a request without the
``admin-key`` header (``triton-grpc-protocol-admin-key`` over gRPC). The clients that
:class:`TritonConfig` makes add that header to those three calls, and only to them, so every
load and unload StreamScore makes (routing, retraining, `streamscore models`) carries it.
Inference and readiness need no key.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
from pydantic import Field, SecretStr
from tritonclient.utils import InferenceServerException

from inference.breaker import CircuitBreaker
from inference.contract import Tensors
from inference.errors import (
    CircuitOpenError,
    InferenceError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from infra.config import Section, env_name

# The key the server's restriction names (``model-repository:admin-key=<value>``); over gRPC
# Triton expects it in the metadata entry ``triton-grpc-protocol-<key>``, over HTTP as is.
ADMIN_HEADER = "admin-key"
GRPC_ADMIN_HEADER = f"triton-grpc-protocol-{ADMIN_HEADER}"


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
    admin_key: SecretStr | None = Field(
        None,
        description="Triton model-control key (kept secret): load, unload and the repository "
        "index need it as the admin-key header; inference does not.",
    )
    native_backends: str = Field(
        "",
        description="Backends the Triton server runs natively besides python, comma separated "
        "(the NGC image: onnxruntime): an ONNX version is then written for onnxruntime "
        "instead of wrapped in the Python backend.",
    )

    def native(self) -> frozenset[str]:
        return frozenset(b.strip() for b in self.native_backends.split(",") if b.strip())

    def admin_headers(self) -> dict[str, str]:
        """The gRPC header of the model-repository calls; empty without a key."""
        if self.admin_key is None:
            return {}
        return {GRPC_ADMIN_HEADER: self.admin_key.get_secret_value()}

    def client(self) -> grpcclient.InferenceServerClient:
        """A blocking gRPC client (the CLI's); its model-control calls carry the key."""
        return AdminClient(
            self.grpc_url,
            admin_headers=self.admin_headers(),
            ssl=self.ssl,
            root_certificates=self.root_certificates,
        )

    def async_client(self) -> grpcaio.InferenceServerClient:
        """An asyncio gRPC client (one channel; share it between models); its model-control
        calls carry the key."""
        return AsyncAdminClient(
            self.grpc_url,
            admin_headers=self.admin_headers(),
            ssl=self.ssl,
            root_certificates=self.root_certificates,
        )


def _with(admin: dict[str, str], headers: dict[str, str] | None) -> dict[str, str] | None:
    merged = {**admin, **(headers or {})}
    return merged or None


class AdminClient(grpcclient.InferenceServerClient):
    """A blocking client whose load, unload and repository-index calls send ``admin_headers``."""

    def __init__(self, url: str, *, admin_headers: dict[str, str], **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._admin = dict(admin_headers)

    def load_model(self, model_name: str, headers: Any = None, **kwargs: Any) -> Any:
        return super().load_model(model_name, headers=_with(self._admin, headers), **kwargs)

    def unload_model(self, model_name: str, headers: Any = None, **kwargs: Any) -> Any:
        return super().unload_model(model_name, headers=_with(self._admin, headers), **kwargs)

    def get_model_repository_index(self, headers: Any = None, **kwargs: Any) -> Any:
        return super().get_model_repository_index(headers=_with(self._admin, headers), **kwargs)


class AsyncAdminClient(grpcaio.InferenceServerClient):
    """The asyncio twin of :class:`AdminClient`."""

    def __init__(self, url: str, *, admin_headers: dict[str, str], **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._admin = dict(admin_headers)

    async def load_model(self, model_name: str, headers: Any = None, **kwargs: Any) -> Any:
        return await super().load_model(model_name, headers=_with(self._admin, headers), **kwargs)

    async def unload_model(self, model_name: str, headers: Any = None, **kwargs: Any) -> Any:
        return await super().unload_model(model_name, headers=_with(self._admin, headers), **kwargs)

    async def get_model_repository_index(self, headers: Any = None, **kwargs: Any) -> Any:
        return await super().get_model_repository_index(
            headers=_with(self._admin, headers), **kwargs
        )


def mismatch(label: str, tensors: Tensors, metadata: Any) -> str | None:
    """Why model ``label``'s tensors on Triton (its metadata) do not fit the project's, in
    one line naming both shapes; None when they fit."""
    inputs = {i.name: list(i.shape) for i in metadata.inputs}
    outputs = {o.name: list(o.shape) for o in metadata.outputs}
    want_in, want_out = [-1, tensors.width], [-1, tensors.columns]
    have_in = inputs.get(tensors.input)
    if have_in is None:
        return (
            f"{label} has no input tensor {tensors.input!r} on Triton (it takes "
            f"{_shapes(inputs)}); the project's inputs make {tensors.input} {want_in}"
        )
    if have_in[-1:] != [tensors.width]:
        return (
            f"{label} takes {tensors.input} {have_in} on Triton, but the project's inputs "
            f"make {tensors.input} {want_in}"
        )
    have_out = outputs.get(tensors.output)
    if have_out is None:
        return (
            f"{label} has no output tensor {tensors.output!r} on Triton (it gives "
            f"{_shapes(outputs)}); the project reads {tensors.output} {want_out}"
        )
    if have_out[-1:] != [tensors.columns] and have_out[1:] != []:
        return (
            f"{label} gives {tensors.output} {have_out} on Triton, but the project reads "
            f"{tensors.output} {want_out}"
        )
    return None


def _shapes(tensors: dict[str, list[int]]) -> str:
    return ", ".join(f"{name} {shape}" for name, shape in tensors.items()) or "nothing"


class TritonModel:
    """One model version on a Triton server. Shares the gRPC channel it is given."""

    def __init__(
        self,
        client: grpcaio.InferenceServerClient,
        name: str,
        version: str,
        config: TritonConfig,
        tensors: Tensors,
    ) -> None:
        self.client = client
        self.name = name
        self.version = version
        self.config = config
        self.tensors = tensors
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_s)
        self._ready = False
        self._output = grpcaio.InferRequestedOutput(tensors.output)

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

    async def check(self) -> str | None:
        """Why this version's tensors on Triton do not fit the project's (None: they fit);
        InferenceError when Triton cannot say."""
        try:
            metadata = await self.client.get_model_metadata(
                self.name, self.version, client_timeout=self.config.timeout_s
            )
        except InferenceServerException as exc:
            raise _translate(self.label, exc) from exc
        return mismatch(self.label, self.tensors, metadata)

    async def predict(self, batch: np.ndarray) -> np.ndarray:
        width = self.tensors.width
        if batch.ndim != 2 or batch.shape[1] != width:
            raise ValueError(f"batch must be (n, {width}), got {batch.shape}")
        if not self.breaker.allow():
            raise CircuitOpenError(self.label, "circuit open after repeated failures")
        tensor = grpcaio.InferInput(self.tensors.input, list(batch.shape), "FP32")
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
        outputs = result.as_numpy(self.tensors.output)
        if outputs is None or len(outputs) != len(batch):
            self.breaker.record_failure()
            raise ModelUnavailableError(self.label, "answer has the wrong number of rows")
        return outputs.reshape(len(batch), -1)

    async def unload(self) -> None:
        self._ready = False


def _translate(label: str, exc: InferenceServerException) -> InferenceError:
    status = str(exc.status() or "")
    if "DEADLINE_EXCEEDED" in status or "Deadline" in str(exc):
        return ModelTimeoutError(label, "no answer within the timeout")
    return ModelUnavailableError(label, exc.message() or str(exc))

"""What the retraining worker asks of Triton and of the routing value.

tritonclient's exceptions leave here as the InferenceError tree (inference/errors.py). A
version whose model card does not parse is never loaded (:class:`CardRefusedError`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import redis
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from inference import card as cards
from inference.contract import tensors_of
from inference.errors import ModelUnavailableError
from inference.repository import ServingConfig
from inference.triton_client import TritonConfig
from schemas.project import Project
from streams.routing.state import ModelRef, Routing, routing_key, update_sync

if TYPE_CHECKING:
    from inference.repository import ModelRepository

SCORE_CHUNK = 4096  # rows per Triton request: the repository's max_batch_size
SCORE_TIMEOUT_S = 60.0  # an offline job: no latency budget, only a bound


@contextmanager
def _triton(ref: ModelRef) -> Iterator[None]:
    """tritonclient's exceptions as the InferenceError tree, naming ``ref``."""
    try:
        yield
    except InferenceServerException as exc:
        raise ModelUnavailableError(str(ref), exc.message() or str(exc)) from exc


def serving_config(triton: TritonConfig) -> ServingConfig:
    """How new versions are served: natively where the Triton has the backend."""
    return ServingConfig(native=triton.native())


def outputs(
    client: grpcclient.InferenceServerClient, ref: ModelRef, x: np.ndarray, project: Project
) -> np.ndarray:
    """The outputs (rows, columns) that Triton's ``ref`` gives the rows ``x``, in chunks
    of SCORE_CHUNK."""
    tensors = tensors_of(project, ref.name)
    out = [np.empty((0, tensors.columns), dtype=np.float32)]
    for start in range(0, len(x), SCORE_CHUNK):
        chunk = np.ascontiguousarray(x[start : start + SCORE_CHUNK], dtype=np.float32)
        tensor = grpcclient.InferInput(tensors.input, list(chunk.shape), "FP32")
        tensor.set_data_from_numpy(chunk)
        with _triton(ref):
            answer = client.infer(
                ref.name,
                [tensor],
                model_version=ref.version,
                outputs=[grpcclient.InferRequestedOutput(tensors.output)],
                client_timeout=SCORE_TIMEOUT_S,
            )
        values = answer.as_numpy(tensors.output)
        if values is None or len(values) != len(chunk):
            raise ModelUnavailableError(str(ref), "answer has the wrong number of rows")
        out.append(values.reshape(len(chunk), -1))
    return np.concatenate(out)


class CardRefusedError(ModelUnavailableError):
    """``scorer:3 refuses to load: its card <path> does not parse: <reason>``."""

    def __init__(self, ref: ModelRef, exc: cards.CardError) -> None:
        super().__init__(str(ref), "")
        self.args = (cards.refusal(str(ref), exc),)


def check_card(repository: ModelRepository, ref: ModelRef) -> None:
    """:class:`CardRefusedError` unless ``ref``'s card parses."""
    try:
        repository.check_card(ref.name, ref.version)
    except cards.CardError as exc:
        raise CardRefusedError(ref, exc) from exc


def ensure_ready(
    client: grpcclient.InferenceServerClient,
    ref: ModelRef,
    timeout_s: float,
    repository: ModelRepository | None = None,
) -> None:
    """Load ``ref``'s model on Triton (every exported version) unless ``ref`` is ready; with
    ``repository``, first refuse a version whose card does not parse."""
    if repository is not None:
        check_card(repository, ref)
    deadline = time.monotonic() + timeout_s
    with _triton(ref):
        if client.is_model_ready(ref.name, ref.version):
            return
        client.load_model(ref.name)
        while not client.is_model_ready(ref.name, ref.version):
            if time.monotonic() > deadline:
                raise ModelUnavailableError(str(ref), f"not ready after {timeout_s:.0f} s")
            time.sleep(0.2)


def add_shadow(store: redis.Redis, project: Project, ref: ModelRef, primary: ModelRef) -> Routing:
    """Add ``ref`` as a shadow to the project's stored routing (``primary`` decides when none
    is stored yet); a concurrent change retries (routing ``update_sync``)."""
    key = routing_key(project.name)
    _, new = update_sync(store, key, lambda current: (current or Routing(primary)).add_shadow(ref))
    return new

"""Models on the real Triton of the tests, the routing value, and the scores to expect."""

from __future__ import annotations

import numpy as np
import redis
import torch
import tritonclient.grpc as grpcclient

from inference.card import SyntheticSource
from inference.repository import ModelRepository
from inference.synthetic import labelled_dataset
from inference.training import TrainConfig, train_and_export
from infra.settings import ServicesSettings
from streams.routing import Routing, state


def export_model(stack: ServicesSettings, name: str, seed: int) -> str:
    """A model trained on other data than the starter, exported once and loaded on Triton."""
    repo = ModelRepository(stack.model_repository)
    if not repo.versions(name):
        x, y = labelled_dataset(seed=seed, n=5_000)
        source = SyntheticSource(seed=seed)
        train_and_export(repo, name, x, y, TrainConfig(epochs=2, seed=seed), source)
    client = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    client.load_model(name)
    client.close()
    return name


def set_routing(stack: ServicesSettings, value: Routing, port: int | None = None) -> None:
    client = redis.Redis(host=stack.host, port=port or stack.redis_port)
    state.write_sync(client, value)
    client.close()


def stored_routing(stack: ServicesSettings) -> Routing | None:
    """The routing value in the test Redis (None when none is stored)."""
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    try:
        return state.read_sync(client)
    finally:
        client.close()


def expected_scores(
    stack: ServicesSettings, model: str, version: int, rows: np.ndarray
) -> np.ndarray:
    """What the exported TorchScript file (the one Triton serves) gives for ``rows``."""
    module = ModelRepository(stack.model_repository).load(model, version)
    with torch.no_grad():
        return module(torch.from_numpy(rows)).numpy().ravel()

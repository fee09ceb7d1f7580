"""Models on the real Triton of the tests, the routing value, and the scores to expect."""

from __future__ import annotations

import numpy as np
import redis
import torch
import tritonclient.grpc as grpcclient

from inference import card as cards
from inference.card import SyntheticSource
from inference.repository import ModelRepository
from inference.shipping import project_ref, ship_trained
from inference.trainer import TrainedModel
from inference.training import TRAINER, MLPParams, train_mlp
from infra.settings import ServicesSettings
from schemas.project import Project
from streams.routing import Routing, state
from tests.support.projects import FRAUD, labelled_dataset

DEFAULT_MODEL = FRAUD.default_model.name


def train_and_export(
    repo: ModelRepository,
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    params: MLPParams = MLPParams(),
    source: cards.SyntheticSource | None = None,
    project: Project = FRAUD,
) -> int:
    """Train the built-in MLP on ``x, y`` and ship it as ``name``'s next version of
    ``project``, with its card and reference distributions; the version."""
    result = train_mlp(x, y, params)
    card = cards.ModelCard(
        created_at=cards.now_ms(),
        source=source or cards.SyntheticSource(),
        dataset=cards.Dataset(rows=len(x), positives=int(np.sum(y == 1))),
        feature_layout=project.layout.hash,
        metrics={"final_loss": result.final_loss},
        code=cards.code_version(),
        training=cards.Training(
            trainer=TRAINER,
            params=params.as_dict(),
            seed=params.seed,
            torch_threads=torch.get_num_threads(),
        ),
        project=project_ref(project),
    )
    trained = TrainedModel(result.model, "torchscript", {"final_loss": result.final_loss})
    return ship_trained(project, repo, name, trained, x, card)


def export_model(stack: ServicesSettings, name: str, seed: int) -> str:
    """A model trained on other data than the starter, exported once and loaded on Triton."""
    repo = ModelRepository(stack.model_repository)
    if not repo.versions(name):
        x, y = labelled_dataset(seed=seed, n=5_000)
        source = SyntheticSource(seed=seed)
        train_and_export(repo, name, x, y, MLPParams(epochs=2, seed=seed), source)
    client = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    client.load_model(name)
    client.close()
    return name


def set_routing(
    stack: ServicesSettings, value: Routing, port: int | None = None, project: Project = FRAUD
) -> None:
    client = redis.Redis(host=stack.host, port=port or stack.redis_port)
    state.write_sync(client, state.routing_key(project.name), value)
    client.close()


def stored_routing(stack: ServicesSettings, project: Project = FRAUD) -> Routing | None:
    """The routing value in the test Redis (None when none is stored)."""
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    try:
        return state.read_sync(client, state.routing_key(project.name))
    finally:
        client.close()


def expected_scores(
    stack: ServicesSettings, model: str, version: int, rows: np.ndarray
) -> np.ndarray:
    """What the exported file (the one Triton serves) gives for ``rows``: its outputs, one
    value per row for a one-output model."""
    outputs = ModelRepository(stack.model_repository).load(model, version).predict(rows)
    return outputs.ravel() if outputs.shape[1] == 1 else outputs


def roles(listing: str) -> dict[tuple[str, str], str]:
    """(model, version) → role, from the table `models list` prints."""
    out = {}
    for line in listing.splitlines():
        cells = [c.strip() for c in line.strip("│┃").split("│")]
        if len(cells) == 4 and cells[1].isdigit():
            out[(cells[0], cells[1])] = cells[3]
    return out

"""Version 1 of a project's models, made before Triton starts (`streamscore up`).

For each model of the project file with no version in the repository yet: its ``source``
(a TorchScript file, an ONNX file or a Triton model folder) is added as version 1, or, with
no source, the project's trainer trains one on simulated events (a *starter*: the
simulator's first ``simulation.starter_rows`` events, seed 0). Either way the version has
its card and, where rows are at hand, its reference distributions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference import card as cards
from inference.repository import ModelRepository, ServingConfig
from inference.retraining import Recipe
from inference.shipping import project_ref, ship_file, ship_trained
from schemas.project import Project
from streams.simulation.simulator import EventSimulator

log = logging.getLogger(__name__)


def simulated_rows(project: Project, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` simulated events of ``seed`` as (model inputs, labels as numbers)."""
    return EventSimulator(project, seed=seed).training_rows(n)


def train_version(
    project: Project,
    repo: ModelRepository,
    name: str,
    *,
    seed: int = 0,
    rows: int | None = None,
    params: Mapping[str, Any] | None = None,
    labels: Callable[[np.ndarray], np.ndarray] | None = None,
    generator: str = "the project's simulator",
    serving: ServingConfig = ServingConfig(),
) -> int:
    """Train ``name``'s next version with the project's trainer on simulated events (seed
    ``seed``, ``rows`` of them; ``params`` over the project's; ``labels`` may change the
    labels, e.g. invert them for a bad canary). The version."""
    sim = project.spec.simulation
    n = rows or (sim.starter_rows if sim is not None else 20_000)
    x, y = simulated_rows(project, seed, n)
    if labels is not None:
        y = labels(y)
    spec = project.spec.retraining
    merged = {**spec.params, **(params or {})}
    model = project.model(name)
    recipe = Recipe(project.trainer(), merged, project.layout.columns, model.task,
                    tuple(model.classes or ()), seed)  # fmt: skip
    trained = recipe.train(x, y)
    card = cards.ModelCard(
        created_at=cards.now_ms(),
        source=cards.SyntheticSource(generator=generator, seed=seed),
        dataset=cards.Dataset(rows=len(x), positives=int(np.sum(y == 1))),
        feature_layout=project.layout.hash,
        metrics=dict(trained.metrics),
        code=cards.code_version(),
        training=cards.Training(
            trainer=spec.trainer,
            params=merged,
            seed=seed,
            torch_threads=torch.get_num_threads(),
        ),
        project=project_ref(project),
    )
    return ship_trained(project, repo, name, trained, x, card, serving)


def prepare(
    project: Project, repo: ModelRepository, serving: ServingConfig = ServingConfig()
) -> list[tuple[str, int]]:
    """Version 1 of every model of the project that has none yet: (name, version) made."""
    made = []
    for model in project.spec.models:
        if repo.versions(model.name):
            continue
        if model.source is not None:
            path = project.resolve(model.source)
            sample = None
            if project.spec.simulation is not None:
                sample, _ = simulated_rows(project, 0, 5_000)
            version = ship_file(project, repo, model.name, path, sample, serving)
            log.info("%s:%d added from %s", model.name, version, path)
        else:
            version = train_version(project, repo, model.name, serving=serving)
            log.info("%s:%d trained on simulated events", model.name, version)
        made.append((model.name, version))
    return made


def preparer(
    project: Project, serving: ServingConfig = ServingConfig()
) -> Callable[[Path], list[tuple[str, int]]]:
    """What Triton's launcher calls on its model repository before it starts (infra/)."""

    def run(root: Path) -> list[tuple[str, int]]:
        return prepare(project, ModelRepository(root), serving)

    return run

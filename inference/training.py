"""Train a :class:`~inference.mlp.ScoringMLP` on feature rows and 0/1 labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from inference import card as cards
from inference.mlp import ScoringMLP
from inference.repository import ModelRepository, reference_of


@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: int = 8
    batch_size: int = 512
    learning_rate: float = 3e-3
    hidden: int = 32
    seed: int = 0


@dataclass(frozen=True, slots=True)
class TrainResult:
    model: ScoringMLP
    final_loss: float


def train_mlp(x: np.ndarray, y: np.ndarray, config: TrainConfig = TrainConfig()) -> TrainResult:
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need x of shape (n, f) and y of shape (n,), got {x.shape}, {y.shape}")
    torch.manual_seed(config.seed)
    features = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    labels = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).unsqueeze(1)
    model = ScoringMLP(features.shape[1], config.hidden)
    model.set_scaling(features.mean(0), features.std(0))
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(config.seed)
    loss = torch.tensor(0.0)
    for _ in range(config.epochs):
        order = torch.randperm(len(features), generator=generator)
        for start in range(0, len(features), config.batch_size):
            idx = order[start : start + config.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model.logits(features[idx]), labels[idx])
            loss.backward()
            optimiser.step()
    model.eval()
    return TrainResult(model=model, final_loss=float(loss.detach()))


def train_and_export(
    repo: ModelRepository,
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig = TrainConfig(),
    source: cards.SyntheticSource | None = None,
) -> int:
    """Train on ``x, y`` (synthetic rows: ``source`` says which) and export the model with
    its card and reference distributions; the version."""
    result = train_mlp(x, y, config)
    card = cards.ModelCard(
        created_at=cards.now_ms(),
        source=source or cards.SyntheticSource(),
        dataset=cards.Dataset(rows=len(x), positives=int(np.sum(y == 1))),
        feature_layout=cards.feature_layout_hash(),
        metrics={"final_loss": result.final_loss},
        code=cards.code_version(),
        training=training_card(config),
    )
    reference = reference_of(result.model, x)
    return repo.export(result.model, name, card=card, reference=reference)


def training_card(config: TrainConfig, holdout_share: float | None = None) -> cards.Training:
    """What reproduces a run of :func:`train_mlp` with ``config`` in this process."""
    return cards.Training(
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        hidden=config.hidden,
        seed=config.seed,
        holdout_share=holdout_share,
        torch_threads=torch.get_num_threads(),
    )


def train_config(card: cards.Training) -> TrainConfig:
    return TrainConfig(
        epochs=card.epochs,
        batch_size=card.batch_size,
        learning_rate=card.learning_rate,
        hidden=card.hidden,
        seed=card.seed,
    )

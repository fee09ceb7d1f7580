"""The built-in trainer: a :class:`~inference.mlp.ScoringMLP` for any task, exported as
TorchScript. Name it in a project as ``inference.training:train`` (the fraud example's
trainer.py calls it), with ``params`` among :class:`MLPParams`' fields.

binary: sigmoid and binary cross-entropy on 0/1 labels; multiclass: softmax and
cross-entropy on class indices; regression: a standardised target and mean squared error.
Same rows, params and seed: the same model (one torch thread; see the card's torch_threads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from inference.mlp import ScoringMLP
from inference.trainer import TrainedModel, TrainingRows

TRAINER = "inference.training:train"


@dataclass(frozen=True, slots=True)
class MLPParams:
    epochs: int = 8
    batch_size: int = 512
    learning_rate: float = 3e-3
    hidden: int = 32
    seed: int = 0

    @classmethod
    def of(cls, params: Mapping[str, Any], seed: int | None = None) -> MLPParams:
        """``params`` of a project (unknown keys are an error naming them)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"the MLP trainer takes {', '.join(sorted(known))}; not "
                             f"{', '.join(unknown)}")  # fmt: skip
        values = dict(params)
        if seed is not None:
            values["seed"] = seed
        made = cls(**values)
        if made.epochs < 1 or made.batch_size < 1 or made.hidden < 2 or made.learning_rate <= 0:
            raise ValueError(f"MLP params out of range: {made}")
        return made

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TrainResult:
    model: ScoringMLP
    final_loss: float


def train(rows: TrainingRows, params: Mapping[str, Any]) -> TrainedModel:
    """The trainer entry point (inference/trainer.py has the contract)."""
    config = MLPParams.of(params, seed=rows.seed)
    result = train_mlp(rows.x, rows.y, config, task=rows.task, classes=len(rows.classes))
    return TrainedModel(result.model, "torchscript", {"final_loss": result.final_loss})


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    config: MLPParams = MLPParams(),
    task: str = "binary",
    classes: int = 2,
) -> TrainResult:
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need x of shape (n, f) and y of shape (n,), got {x.shape}, {y.shape}")
    torch.manual_seed(config.seed)
    features = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    target = np.asarray(y, dtype=np.float64)
    loss_fn: nn.Module
    if task == "multiclass":
        model = ScoringMLP(features.shape[1], config.hidden, classes, "softmax")
        labels = torch.from_numpy(target.astype(np.int64))
        loss_fn = nn.CrossEntropyLoss()
    elif task == "regression":
        model = ScoringMLP(features.shape[1], config.hidden, 1, "identity")
        mean, std = float(target.mean()), float(target.std())
        model.set_target_scaling(mean, std)
        scaled = (target - mean) / max(std, 1e-6)
        labels = torch.from_numpy(scaled.astype(np.float32)).unsqueeze(1)
        loss_fn = nn.MSELoss()
    else:
        model = ScoringMLP(features.shape[1], config.hidden)
        labels = torch.from_numpy(target.astype(np.float32)).unsqueeze(1)
        loss_fn = nn.BCEWithLogitsLoss()
    model.set_scaling(features.mean(0), features.std(0))
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
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

"""The torch models StreamScore serves.

A model takes raw feature rows (``schemas.features.FEATURE_NAMES`` order) and returns one
probability per row. Standardisation is a pair of buffers inside the module, so the exported
TorchScript file is the whole scoring function and Triton needs no preprocessing step.
"""

import torch
from torch import nn

from schemas.features import N_FEATURES


class ScoringMLP(nn.Module):
    """Small MLP: standardise, two hidden ReLU layers, sigmoid."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_features: int = N_FEATURES, hidden: int = 32) -> None:
        super().__init__()
        if n_features <= 0 or hidden <= 0:
            raise ValueError("n_features and hidden must be positive")
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
            nn.Linear(hidden // 2, 1),
        )

    def set_scaling(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(torch.clamp(std, min=1e-6))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))

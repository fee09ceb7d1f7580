"""The built-in torch model: a small MLP for any of the three tasks.

A model takes raw input rows (the project's layout) and returns, per row, the positive
probability (binary), one probability per class (multiclass) or the value (regression).
Standardisation of the inputs (and of a regression's target) is a pair of buffers inside the
module, so the exported TorchScript file is the whole scoring function and Triton needs no
preprocessing step.
"""

from typing import Final

import torch
from torch import nn

HEADS = ("sigmoid", "softmax", "identity")


class ScoringMLP(nn.Module):
    """Standardise, two hidden ReLU layers, then the task's head."""

    mean: torch.Tensor
    std: torch.Tensor
    y_mean: torch.Tensor
    y_std: torch.Tensor
    head: Final[str]

    def __init__(
        self, n_features: int, hidden: int = 32, outputs: int = 1, head: str = "sigmoid"
    ) -> None:
        super().__init__()
        if n_features <= 0 or hidden <= 1 or outputs <= 0:
            raise ValueError("n_features, hidden and outputs must be positive")
        if head not in HEADS:
            raise ValueError(f"head is one of {', '.join(HEADS)}")
        self.head = head
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("y_mean", torch.zeros(1))
        self.register_buffer("y_std", torch.ones(1))
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
            nn.Linear(hidden // 2, outputs),
        )

    def set_scaling(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(torch.clamp(std, min=1e-6))

    def set_target_scaling(self, mean: float, std: float) -> None:
        self.y_mean.fill_(mean)
        self.y_std.fill_(max(std, 1e-6))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.logits(x)
        if self.head == "sigmoid":
            return torch.sigmoid(z)
        if self.head == "softmax":
            return torch.softmax(z, dim=1)
        return z * self.y_std + self.y_mean

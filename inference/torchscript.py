"""Save and load TorchScript, the format the served models are exported in.

torch 2.9+ marks ``torch.jit`` deprecated in favour of ``torch.export``. We keep TorchScript
because it is what Triton's PyTorch (libtorch) backend loads on GPU hosts and what our Python
backend loads here, and the warning is silenced only around these two calls.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch


def save_torchscript(model: torch.nn.Module, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(model.eval().cpu())
        scripted.save(str(path))


def load_torchscript(path: Path) -> torch.nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module: torch.nn.Module = torch.jit.load(str(path), map_location="cpu")
    return module.eval()

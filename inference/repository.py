"""The Triton model repository that StreamScore writes and Triton serves.

Layout (Python backend; one folder per version so versions load side by side)::

    <root>/<model>/config.pbtxt
    <root>/<model>/<version>/model.py      copied from inference/triton_backend.py
    <root>/<model>/<version>/model.pt      TorchScript
    <root>/<model>/<version>/card.json     its model card: lineage, metrics (inference/card.py)
    <root>/<model>/<version>/reference.json its reference distributions (drift/reference.py)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from drift.reference import FILE_NAME as REFERENCE_FILE
from drift.reference import Reference
from inference import card as cards
from inference.card import ModelCard
from inference.torchscript import load_torchscript, save_torchscript
from schemas.features import INPUT_TENSOR, N_FEATURES, OUTPUT_TENSOR

DEFAULT_MODEL = "scorer"
LEGACY_METADATA = "metadata.json"  # what a version had before model cards


@dataclass(frozen=True, slots=True)
class ServingConfig:
    """How Triton serves a model: batching limits and where it runs."""

    max_batch_size: int = 4096
    # Clients send whole micro-batches: waiting for more requests only adds latency.
    max_queue_delay_us: int = 0
    instance_count: int = 1
    torch_threads: int = 1
    gpu: bool | None = None  # None: KIND_GPU when CUDA is present, else KIND_CPU

    def kind(self) -> str:
        gpu = torch.cuda.is_available() if self.gpu is None else self.gpu
        return "KIND_GPU" if gpu else "KIND_CPU"


def config_pbtxt(name: str, serving: ServingConfig) -> str:
    return f"""name: "{name}"
backend: "python"
max_batch_size: {serving.max_batch_size}
input [ {{ name: "{INPUT_TENSOR}" data_type: TYPE_FP32 dims: [ {N_FEATURES} ] }} ]
output [ {{ name: "{OUTPUT_TENSOR}" data_type: TYPE_FP32 dims: [ 1 ] }} ]
dynamic_batching {{ max_queue_delay_microseconds: {serving.max_queue_delay_us} }}
instance_group [ {{ count: {serving.instance_count} kind: {serving.kind()} }} ]
version_policy: {{ all {{ }} }}
parameters: {{ key: "torch_threads" value: {{ string_value: "{serving.torch_threads}" }} }}
"""


class ModelRepository:
    def __init__(self, root: Path) -> None:
        self.root = root

    def versions(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "config.pbtxt").exists())

    def export(
        self,
        model: torch.nn.Module,
        name: str,
        version: int | None = None,
        serving: ServingConfig = ServingConfig(),
        *,
        card: ModelCard,
        reference: Reference | None = None,
    ) -> int:
        """Write ``model`` as TorchScript under a new (or given) version, with its card and
        its reference distributions when given; returns the version. The card is required:
        every version says where it came from."""
        if version is None:
            version = max(self.versions(name), default=0) + 1
        folder = self.root / name / str(version)
        tmp = folder.with_name(f".{version}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_torchscript(model, tmp / "model.pt")
        template = resources.files("inference") / "triton_backend.py"
        (tmp / "model.py").write_text(template.read_text())
        cards.write(card, tmp)
        if reference is not None:
            reference.save(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)  # a half-written version is never visible to Triton
        (self.root / name / "config.pbtxt").write_text(config_pbtxt(name, serving))
        return version

    def reference(self, name: str, version: int | str) -> Reference | None:
        """The version's reference distributions; None when it was exported without them."""
        folder = self.root / name / str(version)
        return Reference.load(folder) if (folder / REFERENCE_FILE).exists() else None

    def folder(self, name: str, version: int | str) -> Path:
        return self.root / name / str(version)

    def card(self, name: str, version: int | str) -> ModelCard:
        """The version's model card; :class:`~inference.card.CardError` when it is missing
        or does not parse (the reason names the file and the field)."""
        return cards.read(self.folder(name, version))

    def check_card(self, name: str, version: int | str) -> ModelCard | None:
        """The card, or None for a version exported before cards existed (it has the old
        ``metadata.json`` and no card: served, without lineage). Raises
        :class:`~inference.card.CardError` for any other missing or unparsable card."""
        folder = self.folder(name, version)
        if not (folder / cards.FILE_NAME).exists() and (folder / LEGACY_METADATA).exists():
            return None
        return cards.read(folder)

    def load(self, name: str, version: int) -> torch.nn.Module:
        """The exact file Triton serves, loaded here (to compare scores with Triton's)."""
        return load_torchscript(self.root / name / str(version) / "model.pt")


def ensure_default_model(root: Path, name: str = DEFAULT_MODEL, seed: int = 0) -> int:
    """Train and export the starter model once; later calls return its newest version."""
    repo = ModelRepository(root)
    existing = repo.versions(name)
    if existing:
        return existing[-1]
    from inference.synthetic import labelled_dataset
    from inference.training import TrainConfig, train_and_export

    x, y = labelled_dataset(seed, 20_000)
    source = cards.SyntheticSource(seed=seed)
    return train_and_export(repo, name, x, y, TrainConfig(seed=seed), source)


def reference_of(model: torch.nn.Module, x: np.ndarray) -> Reference:
    """The reference distributions of ``model``: its inputs ``x`` and its scores on them."""
    with torch.no_grad():
        scores = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return Reference.build(x, scores.numpy().ravel())

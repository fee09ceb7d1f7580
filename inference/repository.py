"""The Triton model repository that StreamScore writes and Triton serves.

Layout (one folder per version, so versions load side by side)::

    <root>/<model>/config.pbtxt            written from the project's entry of the model
    <root>/<model>/<version>/model.pt       TorchScript, or
    <root>/<model>/<version>/model.onnx     ONNX
    <root>/<model>/<version>/model.py       the Python-backend wrapper (inference/triton_backend.py)
    <root>/<model>/<version>/card.json      its model card: lineage, metrics (inference/card.py)
    <root>/<model>/<version>/reference.json its reference distributions (drift/reference.py)

How a version is served. The local Triton (from the nvidia-pytriton wheel) has only the
Python backend, so a TorchScript or ONNX file is wrapped: ``model.py`` runs it with torch or
onnxruntime. A Triton with native backends (the NGC image) serves an ONNX file with its
onnxruntime backend when ``native`` names it (``STREAMSCORE_TRITON_NATIVE_BACKENDS``); then
the model's tensors keep the graph's names. A Triton model folder (config.pbtxt and
versions, for any backend) is copied as it is and served by the backend it names, never
wrapped.

A version is written to a hidden folder and renamed into place: Triton never sees half of
one. The config.pbtxt is one per model: every version of a model shares its tensors.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from drift.reference import FILE_NAME as REFERENCE_FILE
from drift.reference import Reference
from inference import card as cards
from inference.card import ModelCard
from inference.contract import Tensors
from inference.trainer import LocalModel, TrainedModel, onnx_bytes

LEGACY_METADATA = "metadata.json"  # what a version had before model cards
MODEL_FILES = ("model.pt", "model.onnx")


class RepositoryError(ValueError):
    """A version that cannot be added as asked (one line: what and why)."""


@dataclass(frozen=True, slots=True)
class ServingConfig:
    """How Triton serves a model: batching limits, where it runs, which backends it has."""

    max_batch_size: int = 4096
    # Clients send whole micro-batches: waiting for more requests only adds latency.
    max_queue_delay_us: int = 0
    instance_count: int = 1
    torch_threads: int = 1
    gpu: bool | None = None  # None: KIND_GPU when CUDA is present, else KIND_CPU
    native: frozenset[str] = field(default_factory=frozenset)  # e.g. {"onnxruntime"}

    def kind(self) -> str:
        gpu = self.gpu
        if gpu is None:
            import torch

            gpu = torch.cuda.is_available()
        return "KIND_GPU" if gpu else "KIND_CPU"


def config_pbtxt(name: str, tensors: Tensors, serving: ServingConfig, backend: str) -> str:
    """The config of a model Triton serves with ``backend`` (python or onnxruntime)."""
    params = ""
    if backend == "python":
        params = (
            f'parameters: {{ key: "torch_threads" value: {{ string_value: '
            f'"{serving.torch_threads}" }} }}\n'
        )
    return f"""name: "{name}"
backend: "{backend}"
max_batch_size: {serving.max_batch_size}
input [ {{ name: "{tensors.input}" data_type: TYPE_FP32 dims: [ {tensors.width} ] }} ]
output [ {{ name: "{tensors.output}" data_type: TYPE_FP32 dims: [ {tensors.columns} ] }} ]
dynamic_batching {{ max_queue_delay_microseconds: {serving.max_queue_delay_us} }}
instance_group [ {{ count: {serving.instance_count} kind: {serving.kind()} }} ]
version_policy: {{ all {{ }} }}
{params}"""


def backend_of(config: str) -> str:
    """The backend (or platform) a config.pbtxt names; "" when it names none."""
    match = re.search(r'\b(?:backend|platform)\s*:\s*"([^"]+)"', config)
    return match[1] if match else ""


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

    def folder(self, name: str, version: int | str) -> Path:
        return self.root / name / str(version)

    # -- adding versions -------------------------------------------------------------------

    def export(
        self,
        trained: TrainedModel,
        name: str,
        tensors: Tensors,
        *,
        card: ModelCard,
        reference: Reference | None = None,
        serving: ServingConfig = ServingConfig(),
        version: int | None = None,
    ) -> int:
        """Write a trained model under a new (or given) version, with its card and its
        reference distributions when given; returns the version. The card is required:
        every version says where it came from."""

        def write(tmp: Path) -> str:
            if trained.format == "onnx":
                (tmp / "model.onnx").write_bytes(onnx_bytes(trained.model))
                return self._wrap_onnx(tmp, serving)
            from inference.torchscript import save_torchscript

            save_torchscript(trained.model, tmp / "model.pt")
            return _wrap(tmp)

        return self._add(name, tensors, write, card, reference, serving, version)

    def add_file(
        self,
        source: Path,
        name: str,
        tensors: Tensors,
        *,
        card: ModelCard,
        reference: Reference | None = None,
        serving: ServingConfig = ServingConfig(),
    ) -> int:
        """Add a TorchScript file (.pt), an ONNX file (.onnx) or a Triton model folder (its
        newest version and its config.pbtxt, served as it says) as the next version."""
        if source.is_dir():
            return self._add_folder(source, name, card, reference)

        def write(tmp: Path) -> str:
            if source.suffix == ".onnx":
                shutil.copyfile(source, tmp / "model.onnx")
                return self._wrap_onnx(tmp, serving)
            if source.suffix == ".pt":
                shutil.copyfile(source, tmp / "model.pt")
                return _wrap(tmp)
            raise RepositoryError(f"{source.name}: not a .pt, .onnx or a Triton model folder")

        return self._add(name, tensors, write, card, reference, serving, None)

    def _wrap_onnx(self, tmp: Path, serving: ServingConfig) -> str:
        if "onnxruntime" in serving.native:
            return "onnxruntime"
        return _wrap(tmp)

    def _add(
        self, name: str, tensors: Tensors, write: Any, card: ModelCard,
        reference: Reference | None, serving: ServingConfig, version: int | None,
    ) -> int:  # fmt: skip
        version = version or max(self.versions(name), default=0) + 1
        folder = self.root / name / str(version)
        tmp = folder.with_name(f".{version}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            backend = write(tmp)
            config = config_pbtxt(name, tensors, serving, backend)
            current = self.root / name / "config.pbtxt"
            if current.exists() and self.versions(name):
                served = backend_of(current.read_text())
                if served != backend:
                    raise RepositoryError(
                        f"{name} is served by Triton's {served} backend; a version for the "
                        f"{backend} backend cannot join it (add a model of another name)"
                    )
            cards.write(card, tmp)
            if reference is not None:
                reference.save(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)  # a half-written version is never visible to Triton
        current.write_text(config)
        return version

    def _add_folder(
        self, source: Path, name: str, card: ModelCard, reference: Reference | None
    ) -> int:
        config = source / "config.pbtxt"
        versions = sorted((p for p in source.iterdir() if p.name.isdigit() and p.is_dir()),
                          key=lambda p: int(p.name))  # fmt: skip
        if not config.is_file() or not versions:
            raise RepositoryError(
                f"{source}: a Triton model folder holds config.pbtxt and a numbered version"
            )
        text = re.sub(r'^\s*name\s*:\s*"[^"]*"', f'name: "{name}"', config.read_text(), count=1,
                      flags=re.M)  # fmt: skip
        current = self.root / name / "config.pbtxt"
        if current.exists() and self.versions(name) and _same(current.read_text()) != _same(text):
            raise RepositoryError(
                f"{source}/config.pbtxt differs from {name}'s: every version of a model shares "
                "one config (add it as a model of another name)"
            )
        version = max(self.versions(name), default=0) + 1
        folder = self.root / name / str(version)
        tmp = folder.with_name(f".{version}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(versions[-1], tmp)
        cards.write(card, tmp)
        if reference is not None:
            reference.save(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        current.write_text(text)
        return version

    # -- reading versions ----------------------------------------------------------------

    def reference(self, name: str, version: int | str) -> Reference | None:
        """The version's reference distributions; None when it was exported without them."""
        folder = self.folder(name, version)
        return Reference.load(folder) if (folder / REFERENCE_FILE).exists() else None

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

    def model_file(self, name: str, version: int | str) -> Path | None:
        """The version's model.pt or model.onnx; None for another format (a Triton folder's)."""
        for file_name in MODEL_FILES:
            path = self.folder(name, version) / file_name
            if path.exists():
                return path
        return None

    def output_name(self, name: str) -> str | None:
        config = self.root / name / "config.pbtxt"
        if not config.exists():
            return None
        match = re.search(r'output\s*\[\s*\{\s*name\s*:\s*"([^"]+)"', config.read_text())
        return match[1] if match else None

    def load(self, name: str, version: int | str) -> LocalModel:
        """The exact file Triton serves, run here (to compare scores with Triton's)."""
        path = self.model_file(name, version)
        if path is None:
            raise RepositoryError(f"{name}:{version} has no model.pt or model.onnx to run here")
        return LocalModel.file(path, self.output_name(name))


def _wrap(tmp: Path) -> str:
    template = resources.files("inference") / "triton_backend.py"
    (tmp / "model.py").write_text(template.read_text())
    return "python"


def _same(config: str) -> str:
    """A config without its name line and blank space: what versions must share."""
    text = re.sub(r'^\s*name\s*:\s*"[^"]*"', "", config, count=1, flags=re.M)
    return re.sub(r"\s+", " ", text).strip()

"""The trainer contract: what a project's trainer (``retraining.trainer``) is given and returns.

A trainer is a function ``train(rows: TrainingRows, params: dict) -> TrainedModel``, named in
the project file as ``module:function`` (docs/project.md, "Trainers"). It learns from the
rows the scoring workers would have built for those events (the project's input layout,
features as of each event's time) and returns a model in a format StreamScore can serve:
a torch module (exported as TorchScript) or an ONNX model. StreamScore does everything else:
reading the rows, the holdout, gating, the reference distributions, the card, the export.

The built-in torch MLP (inference/training.py) is one trainer; the delivery example brings
a scikit-learn one exported to ONNX.

:class:`LocalModel` runs a trained model in this process, with the runtime Triton's Python
backend uses for it (torch for TorchScript, onnxruntime for ONNX): the gates score the
holdout with it, and the reference distributions take its outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

Format = Literal["torchscript", "onnx"]


@dataclass(frozen=True, slots=True)
class TrainingRows:
    """What a trainer learns from.

    ``x`` is (rows, width) float32, the project's input columns in order (``columns``);
    ``y`` is each row's label as float64: 0/1 (binary), the class index (multiclass, in
    ``classes`` order) or the value (regression). ``seed`` seeds whatever is random."""

    x: np.ndarray
    y: np.ndarray
    columns: tuple[str, ...]
    task: str
    classes: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.x.shape[1] != len(self.columns):
            raise ValueError(f"x must be (rows, {len(self.columns)}), got {self.x.shape}")
        if self.y.shape != (len(self.x),):
            raise ValueError(f"y needs one label per row, got {self.y.shape}")


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A trainer's result. ``model`` is a torch.nn.Module for ``torchscript`` (scripted on
    export: it must be scriptable) or an onnx.ModelProto (or its bytes) for ``onnx``.
    ``input``/``output`` name its tensors (ONNX: as in the graph). ``metrics`` (e.g. the
    final loss) go into the version's card; ``params`` are what was actually used."""

    model: Any
    format: Format
    metrics: dict[str, float] = field(default_factory=dict)
    input: str = "features"
    output: str = "score"


Trainer = Callable[[TrainingRows, Mapping[str, Any]], TrainedModel]


def onnx_bytes(model: Any) -> bytes:
    return model if isinstance(model, bytes) else bytes(model.SerializeToString())


class LocalModel:
    """A model file or a trained model, run in this process: ``predict(x)`` gives the
    outputs (rows, columns) as float64, as Triton would serve them."""

    def __init__(self, run: Callable[[np.ndarray], np.ndarray]) -> None:
        self._run = run

    @classmethod
    def of(cls, trained: TrainedModel) -> LocalModel:
        if trained.format == "onnx":
            return cls.onnx(onnx_bytes(trained.model), trained.output)
        import torch

        module = trained.model.eval()

        def run(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(x)).numpy()

        return cls(run)

    @classmethod
    def file(cls, path: Path, output: str | None = None) -> LocalModel:
        """``model.pt`` (TorchScript) or ``model.onnx`` of a version folder."""
        if path.suffix == ".onnx":
            return cls.onnx(path.read_bytes(), output)
        import torch

        from inference.torchscript import load_torchscript

        module = load_torchscript(path)

        def run(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(x)).numpy()

        return cls(run)

    @classmethod
    def onnx(cls, model: bytes, output: str | None) -> LocalModel:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        outputs = [output] if output else None

        def run(x: np.ndarray) -> np.ndarray:
            return np.asarray(session.run(outputs, {name: x})[0])

        return cls(run)

    def predict(self, x: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(x, dtype=np.float32)
        out = np.asarray(self._run(rows), dtype=np.float64)
        return out.reshape(len(rows), -1)

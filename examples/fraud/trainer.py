"""The fraud example's trainer: StreamScore's built-in torch MLP (inference/training.py).

A trainer is ``train(rows, params) -> TrainedModel`` (docs/project.md, "Trainers"): ``rows``
holds the model's inputs as the scoring workers build them and each row's label; ``params``
is ``retraining.params`` of streamscore.yaml. Replace the body with any training that
returns a TorchScript-able torch module or an ONNX model.
"""

from collections.abc import Mapping
from typing import Any

from inference.trainer import TrainedModel, TrainingRows
from inference.training import train as train_mlp


def train(rows: TrainingRows, params: Mapping[str, Any]) -> TrainedModel:
    return train_mlp(rows, params)

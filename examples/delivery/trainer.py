"""The delivery example's trainer: scikit-learn's gradient boosting, exported to ONNX.

A trainer is ``train(rows, params) -> TrainedModel`` (docs/project.md, "Trainers"): ``rows``
holds the model's inputs as the scoring workers build them (``rows.x``, the project's input
columns in order) and each row's label (``rows.y``, minutes here); ``params`` is
``retraining.params`` of streamscore.yaml. The model is converted to ONNX with skl2onnx;
StreamScore serves it with onnxruntime (wrapped in Triton's Python backend locally, natively
on a Triton with the onnxruntime backend) and names its tensors as the project says.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingRegressor

from inference.trainer import TrainedModel, TrainingRows


def train(rows: TrainingRows, params: Mapping[str, Any]) -> TrainedModel:
    model = GradientBoostingRegressor(random_state=rows.seed, **params)
    model.fit(rows.x, rows.y)
    width = rows.x.shape[1]
    onnx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, width]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    predicted = model.predict(rows.x)
    mae = float(np.mean(np.abs(predicted - rows.y)))
    output = onnx.graph.output[0].name
    return TrainedModel(onnx, "onnx", {"train_mae": mae}, input="features", output=output)

"""Training learns the synthetic ground truth; export writes what Triton loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from inference.contract import tensors_of
from inference.repository import ModelRepository, ServingConfig, config_pbtxt
from inference.trainer import TrainedModel
from inference.training import MLPParams, train_mlp
from tests.support.cards import sample_card
from tests.support.projects import FRAUD, INPUT_WIDTH, labelled_dataset, true_probability

TENSORS = tensors_of(FRAUD, "scorer")


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_trained_model_ranks_close_to_the_ground_truth() -> None:
    x, y = labelled_dataset(seed=1, n=20_000)
    model = train_mlp(x, y, MLPParams(epochs=6)).model
    x_test, y_test = labelled_dataset(seed=2, n=10_000)
    with torch.no_grad():
        scores = model(torch.from_numpy(x_test)).numpy().ravel()
    best = _auc(true_probability(x_test), y_test)
    assert _auc(scores, y_test) > best - 0.05
    assert _auc(scores, y_test) > 0.75  # chance is 0.5; the ground truth itself reaches ~0.84


def test_same_seed_same_data() -> None:
    a, b = labelled_dataset(3, 100), labelled_dataset(3, 100)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[0].shape == (100, INPUT_WIDTH) and a[0].dtype == np.float32


def test_export_writes_versions_that_load_back(tmp_path: Path) -> None:
    x, y = labelled_dataset(seed=4, n=2_000)
    model = train_mlp(x, y, MLPParams(epochs=1)).model
    trained = TrainedModel(model, "torchscript", {})
    repo = ModelRepository(tmp_path)
    card = sample_card()
    assert repo.export(trained, "m", TENSORS, card=card) == 1
    assert repo.export(trained, "m", TENSORS, card=card) == 2
    assert repo.versions("m") == [1, 2] and repo.models() == ["m"]
    assert repo.card("m", 2) == card
    for name in ("model.py", "model.pt", "card.json"):
        assert (tmp_path / "m" / "2" / name).exists()
    rows = torch.from_numpy(x[:32])
    with torch.no_grad():
        expected = model(rows).numpy().reshape(32, -1)
    np.testing.assert_allclose(repo.load("m", 2).predict(x[:32]), expected)


def test_config_names_the_device_kind() -> None:
    assert "kind: KIND_GPU" in config_pbtxt("m", TENSORS, ServingConfig(gpu=True), "python")
    cpu = config_pbtxt("m", TENSORS, ServingConfig(gpu=False, max_batch_size=256), "python")
    assert "kind: KIND_CPU" in cpu and "max_batch_size: 256" in cpu
    assert f'name: "features" data_type: TYPE_FP32 dims: [ {INPUT_WIDTH} ]' in cpu
    assert 'name: "score" data_type: TYPE_FP32 dims: [ 1 ]' in cpu

"""Model cards on the retraining side, without services: the card's ranges and back, the
comparison `models reproduce` makes, and versions whose card does not parse refused
before Triton is asked anything (streams/routing/catalog.py, streams/retraining/serving.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from inference import card as cards
from inference.repository import ModelRepository
from inference.trainer import LocalModel, TrainingRows
from inference.training import MLPParams, train_mlp
from streams.retraining import lineage, serving
from streams.retraining.reproduce import compare
from streams.retraining.settings import RetrainingSettings
from streams.routing import ModelRef, RoutingError
from streams.routing.catalog import ready_ref
from streams.topics import TopicNames
from tests.support.cards import V1_CARD, sample_card
from tests.support.projects import FRAUD, labelled_dataset


def test_the_card_ranges_follow_the_spans_read_and_come_back() -> None:
    settings = RetrainingSettings(topics=TopicNames().prefixed("p"))
    spans = {"p.events": {1: (5, 9), 0: (0, 3)}, "p.features": {0: (2, 2)}}
    ranges = lineage.topic_ranges(settings, spans)
    assert [(r.role, r.topic) for r in ranges] == [
        ("events", "p.events"),
        ("features", "p.features"),
    ]
    assert [(p.partition, p.start, p.end) for p in ranges[0].partitions] == [(0, 0, 3), (1, 5, 9)]
    source = cards.TopicsSource(from_ms=1, to_ms=2, topics=ranges)
    assert lineage.spans_of(source) == spans


def test_compare_matches_within_the_tolerance_and_names_the_rest() -> None:
    nan = float("nan")
    recorded = {"a": 1.0, "b": 2.0, "c": nan, "gone": 1.0}
    reproduced = {"a": 1.0 + 5e-7, "b": 2.1, "c": nan, "new": 3.0}
    result = compare(recorded, reproduced, 1e-6)
    assert [c.metric for c in result] == ["a", "b", "c", "gone", "new"]
    assert [c.metric for c in result if not c.matches] == ["b", "gone", "new"]
    assert not compare({"a": 1.0}, {"a": 1.0 + 5e-7}, 0.0)[0].matches
    assert not compare({"c": nan}, {"c": 0.0})[0].matches and math.isnan(result[2].recorded or 0)


class NoTriton:
    """Any call fails the test: a refused version never reaches Triton."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Triton was asked {name}")


@pytest.fixture
def repository(tmp_path: Path) -> ModelRepository:
    good = tmp_path / "scorer" / "2"
    good.mkdir(parents=True)
    cards.write(sample_card(), good)
    bad = tmp_path / "scorer" / "3"
    bad.mkdir()
    cards.write(sample_card(), bad)
    card = bad / "card.json"
    card.write_text(card.read_text().replace('"seed": 5', '"seed": "five"'))
    return ModelRepository(tmp_path)


def test_a_version_whose_card_does_not_parse_is_not_routed(repository: ModelRepository) -> None:
    path = repository.root / "scorer" / "3" / "card.json"
    expected = (
        f"scorer:3 refuses to load: its card {path} does not parse: "
        "field 'training.seed': Input should be a valid integer"
    )
    with pytest.raises(RoutingError) as routing:
        ready_ref(NoTriton(), "scorer:3", repository)  # type: ignore[arg-type]
    assert str(routing.value) == expected
    with pytest.raises(serving.CardRefusedError) as loading:
        serving.ensure_ready(NoTriton(), ModelRef("scorer", "3"), 1.0, repository)  # type: ignore[arg-type]
    assert str(loading.value) == expected
    missing = repository.root / "scorer" / "4"
    missing.mkdir()
    with pytest.raises(RoutingError, match=r"scorer:4 refuses to load: its card .* no such file"):
        ready_ref(NoTriton(), "scorer:4", repository)  # type: ignore[arg-type]
    serving.check_card(repository, ModelRef("scorer", "2"))  # a good card passes


def test_a_version_1_card_still_reads_and_runs_as_the_built_in_trainer(tmp_path: Path) -> None:
    folder = tmp_path / "scorer" / "1"
    folder.mkdir(parents=True)
    cards.path_of(folder).write_text(json.dumps(V1_CARD, indent=2))
    card = cards.read(folder)
    assert card.card_version == 1 and card.project is None
    assert card.feature_layout == FRAUD.layout.hash  # the fraud layout hashes as before
    assert card.run == cards.Training(
        trainer=cards.BUILT_IN_TRAINER,
        params={"epochs": 2, "batch_size": 64, "learning_rate": 0.003, "hidden": 8},
        seed=5,
        holdout_share=None,
        torch_threads=1,
    )
    serving.check_card(ModelRepository(tmp_path), ModelRef("scorer", "1"))  # routable
    # What the card's run trains is what the built-in MLP trained with those fields.
    run = card.run
    assert run is not None
    x, y = labelled_dataset(seed=3, n=400)
    rows = TrainingRows(x, y.astype(np.float64), FRAUD.layout.columns, "binary", seed=run.seed)
    trained = FRAUD.entry_point(run.trainer)(rows, run.params)
    direct = train_mlp(x, y, MLPParams(epochs=2, batch_size=64, learning_rate=0.003, hidden=8,
                                       seed=5))  # fmt: skip
    with torch.no_grad():
        expected = direct.model(torch.from_numpy(x)).numpy()
    assert np.array_equal(LocalModel.of(trained).predict(x), expected)
    assert trained.metrics["final_loss"] == direct.final_loss

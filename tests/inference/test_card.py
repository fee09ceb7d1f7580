"""Model cards (inference/card.py): written and read back whole, refused with the field
named, the feature layout's hash, and the card every synthetic export writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from inference import card as cards
from inference.repository import ModelRepository
from inference.synthetic import labelled_dataset
from inference.training import TrainConfig, train_and_export
from schemas import features
from tests.support.cards import sample_card


def test_a_card_round_trips_through_its_file(tmp_path: Path) -> None:
    card = sample_card()
    path = cards.write(card, tmp_path)
    assert path == tmp_path / "card.json"
    assert cards.read(tmp_path) == card
    assert json.loads(path.read_text())["card_version"] == 1
    # An AUC without both classes is NaN: written as NaN and read back, never as null.
    cards.write(sample_card(metrics={"primary_auc": float("nan")}), tmp_path)
    assert math.isnan(cards.read(tmp_path).metrics["primary_auc"])


def _broken(tmp_path: Path, edit: dict[str, object]) -> str:
    raw = json.loads(cards.write(sample_card(), tmp_path).read_text())
    for dotted, value in edit.items():
        *parents, leaf = dotted.split(".")
        node = raw
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        last: int | str = int(leaf) if leaf.isdigit() else leaf
        if value is None:
            del node[last]
        else:
            node[last] = value
    (tmp_path / "card.json").write_text(json.dumps(raw))
    with pytest.raises(cards.CardError) as caught:
        cards.read(tmp_path)
    assert caught.value.path == tmp_path / "card.json"
    assert "\n" not in str(caught.value)
    return caught.value.reason


def test_a_bad_card_names_the_field(tmp_path: Path) -> None:
    assert _broken(tmp_path, {"training.seed": "five"}).startswith(
        "field 'training.seed': Input should be a valid integer"
    )
    assert _broken(tmp_path, {"request.request_id": None}) == (
        "field 'request.request_id': Field required"
    )
    assert _broken(tmp_path, {"card_version": 2}).startswith("field 'card_version'")
    assert _broken(tmp_path, {"surprise": 1}) == "field 'surprise': Extra inputs are not permitted"
    reason = _broken(tmp_path, {"source.topics.0.partitions.1.start": -1})
    assert reason.startswith("field 'source.topics.topics.0.partitions.1.start'")


def test_a_missing_or_unparsable_card_is_refused(tmp_path: Path) -> None:
    with pytest.raises(cards.CardError, match="no such file"):
        cards.read(tmp_path)
    (tmp_path / "card.json").write_text('{"card_version": 1,')
    with pytest.raises(cards.CardError, match="Invalid JSON: EOF") as caught:
        cards.read(tmp_path)
    refusal = cards.refusal("scorer:3", caught.value)
    assert refusal.startswith(f"scorer:3 refuses to load: its card {tmp_path}/card.json does")


def test_the_layout_hash_is_stable_and_follows_names_types_and_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = cards.feature_layout_hash()
    assert first == cards.feature_layout_hash() and len(first) == 64
    # Pinned: a change to schemas/features.py's layout must change it (and update this).
    assert first == "13e7be48a12ea6e345e380aa4feb33ef6e0e4c93efc2e03ff02f99e3b5308988"
    event = features.EVENT_FEATURES
    swapped = (event[1], event[0], *event[2:])
    monkeypatch.setattr(cards, "EVENT_FEATURES", swapped)
    assert cards.feature_layout_hash() != first
    retyped = (features.Feature(event[0].name, "float", 0.0, ""), *event[1:])
    monkeypatch.setattr(cards, "EVENT_FEATURES", retyped)
    assert cards.feature_layout_hash() != first
    redefaulted = (features.Feature(event[0].name, event[0].avro_type, 9.0, "x"), *event[1:])
    monkeypatch.setattr(cards, "EVENT_FEATURES", redefaulted)
    assert cards.feature_layout_hash() == first  # defaults and docs are not the layout


def test_a_synthetic_export_writes_its_card(tmp_path: Path) -> None:
    x, y = labelled_dataset(seed=4, n=600)
    repo = ModelRepository(tmp_path)
    version = train_and_export(
        repo, "m", x, y, TrainConfig(epochs=1, seed=3), cards.SyntheticSource(seed=4)
    )
    card = repo.card("m", version)
    assert card.source == cards.SyntheticSource(seed=4)
    assert (card.dataset.rows, card.dataset.positives) == (600, int(y.sum()))
    assert (card.training.seed, card.training.epochs) == (3, 1)
    assert card.feature_layout == cards.feature_layout_hash()
    assert card.parent is None and card.gate is None and card.request is None
    assert card.metrics["final_loss"] > 0
    assert card.code.package_version == "0.1.0"

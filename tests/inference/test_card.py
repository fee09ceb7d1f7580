"""Model cards (inference/card.py): written and read back whole, refused with the field
named, the feature layout's hash, and the card every synthetic export writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from inference import card as cards
from inference.repository import ModelRepository
from inference.shipping import project_ref
from inference.training import TRAINER, MLPParams
from schemas.project import load_project
from tests.support.cards import V1_CARD, sample_card
from tests.support.models import train_and_export
from tests.support.projects import FRAUD, derived, labelled_dataset


def test_a_card_round_trips_through_its_file(tmp_path: Path) -> None:
    card = sample_card()
    path = cards.write(card, tmp_path)
    assert path == tmp_path / "card.json"
    assert cards.read(tmp_path) == card
    assert json.loads(path.read_text())["card_version"] == 2
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
    # training is a version 2 run (it names its trainer) or a version 1 MLP's fields: the
    # field is named as the card writes it, whichever shape it has, with no other errors.
    assert _broken(tmp_path, {"training.seed": "five"}) == (
        "field 'training.seed': Input should be a valid integer"
    )
    assert _broken(tmp_path, {"request.request_id": None}) == (
        "field 'request.request_id': Field required"
    )
    assert _broken(tmp_path, {"card_version": 3}).startswith("field 'card_version'")
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


def test_a_version_1_card_reads_as_the_built_in_trainer(tmp_path: Path) -> None:
    (tmp_path / "card.json").write_text(json.dumps(V1_CARD))
    card = cards.read(tmp_path)
    assert card.card_version == 1 and card.project is None
    assert card.run == cards.Training(
        trainer=TRAINER,
        params={"epochs": 2, "batch_size": 64, "learning_rate": 0.003, "hidden": 8},
        seed=5,
        holdout_share=None,
        torch_threads=1,
    )


def _event_inputs() -> list[dict[str, object]]:
    return [i.model_dump(mode="json", by_alias=True, exclude_none=True) for i in FRAUD.spec.inputs]


def test_the_layout_hash_is_stable_and_follows_names_types_and_order(tmp_path: Path) -> None:
    first = FRAUD.layout.hash
    assert first == load_project(FRAUD.path).layout.hash and len(first) == 64
    # Pinned: the fraud layout hashes as the layout did before project files (cards of
    # versions trained then still match); a change to its inputs must change it.
    assert first == "13e7be48a12ea6e345e380aa4feb33ef6e0e4c93efc2e03ff02f99e3b5308988"
    inputs = _event_inputs()
    swapped = [inputs[1], inputs[0], *inputs[2:]]
    assert (
        load_project(derived("fraud", tmp_path / "swapped", {"inputs": swapped})).layout.hash
        != first
    )
    renamed = [{**inputs[0], "name": "amount_eur", "field": "amount"}, *inputs[1:]]
    assert (
        load_project(derived("fraud", tmp_path / "renamed", {"inputs": renamed})).layout.hash
        != first
    )
    retyped = derived("fraud", tmp_path / "retyped")
    schema = json.loads((retyped.parent / "schemas" / "event.avsc").read_text())
    schema["fields"][3]["type"] = "float"  # amount
    (retyped.parent / "schemas" / "event.avsc").write_text(json.dumps(schema))
    assert load_project(retyped).layout.hash != first
    # Defaults and docs are not the layout.
    redefaulted = [{**inputs[0], "default": 9.0}, *inputs[1:]]
    view = FRAUD.spec.features.model_dump(mode="json", by_alias=True, exclude_none=True)
    view["features"][0] = {**view["features"][0], "doc": "x"}
    changed = {"inputs": redefaulted, "features": view}
    assert load_project(derived("fraud", tmp_path / "defaults", changed)).layout.hash == first


def test_a_synthetic_export_writes_its_card(tmp_path: Path) -> None:
    x, y = labelled_dataset(seed=4, n=600)
    repo = ModelRepository(tmp_path)
    version = train_and_export(
        repo, "m", x, y, MLPParams(epochs=1, seed=3), cards.SyntheticSource(seed=4)
    )
    card = repo.card("m", version)
    assert card.source == cards.SyntheticSource(seed=4)
    assert card.dataset is not None
    assert (card.dataset.rows, card.dataset.positives) == (600, int(y.sum()))
    run = card.run
    assert run is not None and run.trainer == TRAINER
    assert (run.seed, run.params["epochs"]) == (3, 1)
    assert card.feature_layout == FRAUD.layout.hash
    assert card.project == project_ref(FRAUD)
    assert card.parent is None and card.gate is None and card.request is None
    assert card.metrics["final_loss"] > 0
    assert card.code.package_version == "0.1.0"

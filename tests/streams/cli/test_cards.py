"""`streamscore models show | reproduce` on a model repository in a temporary folder (no
service): the card printed, and bad NAME:VERSION arguments refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from inference import card as cards
from inference.repository import ModelRepository
from inference.training import MLPParams
from streams.cli.cards import register_cards
from tests.support.cards import V1_CARD, sample_card
from tests.support.models import train_and_export
from tests.support.projects import labelled_dataset

runner = CliRunner()


def _app() -> typer.Typer:
    """A `models` group holding only the card commands (models.py registers them for real)."""
    app, models = typer.Typer(), typer.Typer()
    register_cards(models)
    app.add_typer(models, name="models")
    return app


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repository")
    x, y = labelled_dataset(seed=2, n=400)
    source = cards.SyntheticSource(generator="tests.support.projects.labelled_dataset", seed=2)
    train_and_export(ModelRepository(root), "scorer", x, y, MLPParams(epochs=1), source)
    return root


def models(repository: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(_app(), ["models", *args, "--model-repository", str(repository)])
    return result.exit_code, result.output


def test_show_prints_the_card_as_pretty_or_raw_json(repository: Path) -> None:
    code, pretty = models(repository, "show", "scorer:1")
    assert code == 0, pretty
    card = ModelRepository(repository).card("scorer", 1)
    assert cards.ModelCard.model_validate_json(pretty) == card
    assert pretty.startswith('{\n  "card_version": 2,')
    code, raw = models(repository, "show", "scorer:1", "--json")
    assert code == 0, raw
    assert len(raw.strip().splitlines()) == 1
    assert json.loads(raw)["source"] == {"kind": "synthetic", "generator": card.source.generator,
                                         "seed": 2}  # fmt: skip


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("scorer", "error: expected NAME:VERSION, got 'scorer'"),
        ("scorer:x", "error: version must be a number, got 'x' in 'scorer:x'"),
        ("nope:1", "error: no model 'nope' in {root}; its models: scorer"),
        ("scorer:7", "error: scorer:7 is not in {root}; scorer has versions 1"),
    ],
)
def test_a_bad_target_is_one_line_and_exit_1(repository: Path, target: str, message: str) -> None:
    for command in ("show", "reproduce"):
        code, output = models(repository, command, target)
        assert code == 1
        assert output.strip() == message.format(root=repository)


def test_a_card_that_does_not_parse_is_one_line(tmp_path: Path, repository: Path) -> None:
    folder = tmp_path / "scorer" / "1"
    folder.mkdir(parents=True)
    (folder / "card.json").write_text('{"card_version": 1}')
    code, output = models(tmp_path, "show", "scorer:1")
    assert code == 1
    assert output.strip() == (
        f"error: card {folder}/card.json: field 'created_at': Field required (and 4 more)"
    )


def test_a_synthetic_version_has_nothing_to_reproduce(repository: Path) -> None:
    code, output = models(repository, "reproduce", "scorer:1")
    assert code == 1
    assert output.strip() == (
        "error: scorer:1 was trained on synthetic data (tests.support.projects.labelled_dataset, "
        "seed 2), not on a range of the topics: nothing to read again"
    )


def test_show_reads_a_version_1_card(tmp_path: Path) -> None:
    folder = tmp_path / "scorer" / "1"
    folder.mkdir(parents=True)
    cards.path_of(folder).write_text(json.dumps(V1_CARD, indent=2))
    code, output = models(tmp_path, "show", "scorer:1", "--json")
    assert code == 0, output
    shown = json.loads(output)
    assert shown["card_version"] == 1 and shown["project"] is None
    assert shown["training"] == V1_CARD["training"]  # as written: the MLP's fields


def test_a_version_added_from_a_file_has_nothing_to_reproduce(tmp_path: Path) -> None:
    folder = tmp_path / "scorer" / "2"
    folder.mkdir(parents=True)
    source = cards.FileSource(path="/models/scorer.onnx", sha256="ab" * 32)
    cards.write(sample_card(source=source, dataset=None, training=None), folder)
    code, output = models(tmp_path, "reproduce", "scorer:2")
    assert code == 1
    assert output.strip() == (
        "error: scorer:2 was added from /models/scorer.onnx (sha256 abababababab...): it was "
        "trained elsewhere, nothing here can train it again"
    )

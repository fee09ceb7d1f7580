"""`streamscore models show | reproduce NAME:VERSION`: a version's model card, and training
it again from its card (inference/card.py, streams/retraining/reproduce.py).

``register_cards(models_cli)`` adds both to the `models` group. `show` reads only the model
repository; `reproduce` reads Kafka and asks Triton for the parent's scores, like the
retraining worker, whose settings (``STREAMSCORE_*``) it reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from infra.errors import StreamScoreError
from streams.cli.common import Bootstrap, TritonUrl, fail, given, out, settings_error

if TYPE_CHECKING:
    from inference.repository import ModelRepository
    from streams.retraining.settings import RetrainingSettings
    from streams.routing.state import ModelRef

Target = Annotated[str, typer.Argument(help="NAME:VERSION of a model in the repository.")]
RepositoryPath = Annotated[
    Path | None,
    typer.Option(help="Triton model repository (env STREAMSCORE_MODEL_REPOSITORY)."),
]


def _settings(
    repository: Path | None, bootstrap: str | None = None, triton_url: str | None = None
) -> RetrainingSettings:
    from streams.retraining.settings import RetrainingSettings

    try:
        return RetrainingSettings(
            **given(
                model_repository=repository,
                kafka={"bootstrap": bootstrap},
                triton={"grpc_url": triton_url},
            )
        )
    except ValidationError as exc:
        raise settings_error(exc) from None


def _version(repo: ModelRepository, text: str) -> ModelRef:
    """NAME:VERSION of a version folder in ``repo``, or one line saying what there is."""
    from streams.routing.state import ModelRef, RoutingError

    try:
        ref = ModelRef.parse(text)
    except RoutingError as exc:
        raise fail(exc) from None
    versions = repo.versions(ref.name)
    if not versions:
        models = ", ".join(repo.models()) or "none"
        raise fail(f"no model {ref.name!r} in {repo.root}; its models: {models}")
    if int(ref.version) not in versions:
        listed = ", ".join(map(str, versions))
        raise fail(f"{ref} is not in {repo.root}; {ref.name} has versions {listed}")
    return ref


def show(
    target: Target,
    raw: Annotated[bool, typer.Option("--json", help="The card as one line of JSON.")] = False,
    model_repository: RepositoryPath = None,
) -> None:
    """Print NAME:VERSION's model card: what it was trained on, its metrics and lineage."""
    from inference.card import CardError
    from inference.repository import ModelRepository

    repo = ModelRepository(_settings(model_repository).model_repository)
    ref = _version(repo, target)
    try:
        card = repo.card(ref.name, ref.version)
    except CardError as exc:
        raise fail(exc) from None
    text = card.model_dump_json() if raw else json.dumps(card.model_dump(mode="json"), indent=2)
    out.print(text, markup=False)


def reproduce(
    target: Target,
    model_repository: RepositoryPath = None,
    bootstrap: Bootstrap = None,
    triton_url: TritonUrl = None,
) -> None:
    """Train NAME:VERSION again on exactly its card's range, seed and parent; exit 0 when
    every metric matches the card's within 1e-6, else 1, naming those that differ."""
    from inference.repository import ModelRepository
    from streams.retraining.reproduce import reproduce as run_reproduce

    settings = _settings(model_repository, bootstrap, triton_url)
    ref = _version(ModelRepository(settings.model_repository), target)
    try:
        result = run_reproduce(settings, ref)
    except StreamScoreError as exc:
        raise fail(exc) from None
    table = Table("metric", "card", "reproduced", "match", title=f"{ref} from its card")
    for c in result.comparisons:
        cells = ["-" if v is None else f"{v:.9g}" for v in (c.recorded, c.reproduced)]
        table.add_row(c.metric, *cells, "yes" if c.matches else "NO")
    out.print(table)
    verdict = "accepted" if result.accepted else f"rejected: {'; '.join(result.reasons)}"
    out.print(f"gate on the reproduction: {verdict}", markup=False)
    if result.differing:
        raise fail(
            f"{ref} did not reproduce: {', '.join(result.differing)} differ by more than 1e-06"
        )
    out.print(f"{ref} reproduced: {len(result.comparisons)} metrics within 1e-06", markup=False)


def register_cards(models_cli: typer.Typer) -> None:
    """Add `show` and `reproduce` to the `models` group."""
    models_cli.command("show")(show)
    models_cli.command("reproduce")(reproduce)

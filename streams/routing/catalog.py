"""What Triton can serve: resolve NAME[:VERSION] to a ready version, or say what exists.

Used wherever a command names a model (`models promote`, `models shadow add`, `replay`), so
a model or version that is not in the repository gets one line naming what is there, never
Triton's raw status text. Given the model repository, a version whose model card does not
parse (inference/card.py) is refused before Triton is asked to load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from inference import card as cards
from streams.routing.state import ModelRef, RoutingError

if TYPE_CHECKING:  # torch stays out of the commands that never touch a model file
    from inference.repository import ModelRepository

Index = list[tuple[str, str, str]]  # (name, version, state), sorted


def repository_index(triton: grpcclient.InferenceServerClient) -> Index:
    return sorted((m.name, m.version, m.state) for m in triton.get_model_repository_index().models)


def versions_of(index: Index, name: str) -> list[str]:
    return sorted({v for n, v, _ in index if n == name and v}, key=int)


def newest_ready(index: Index, name: str) -> str | None:
    """The newest version of ``name`` that Triton reports READY; None when there is none."""
    ready = [int(v) for n, v, state in index if n == name and v and state == "READY"]
    return str(max(ready)) if ready else None


def describe(index: Index) -> str:
    """``scorer (versions 1, 2), other (not loaded yet)``; ``nothing`` when empty."""
    names = sorted({n for n, _, _ in index})
    parts = []
    for name in names:
        versions = versions_of(index, name)
        parts.append(f"{name} (versions {', '.join(versions)})" if versions else
                     f"{name} (not loaded yet)")  # fmt: skip
    return ", ".join(parts) or "nothing"


def check_card(repository: ModelRepository | None, ref: ModelRef) -> None:
    """:class:`RoutingError` when ``ref``'s card is missing or does not parse. A version
    with no folder is left to Triton's index, which names what there is."""
    if repository is None or not repository.folder(ref.name, ref.version).is_dir():
        return
    try:
        repository.check_card(ref.name, ref.version)
    except cards.CardError as exc:
        raise RoutingError(cards.refusal(str(ref), exc)) from exc


def ready_ref(
    triton: grpcclient.InferenceServerClient,
    text: str,
    repository: ModelRepository | None = None,
) -> ModelRef:
    """NAME[:VERSION] (default: the newest version), loaded on Triton when it is not yet.

    Raises :class:`RoutingError` naming what the repository holds when the model or the
    version is not there, and, given ``repository``, when the version's card does not parse
    (checked before any load)."""
    name, _, version = text.partition(":")
    if version:
        check_card(repository, ModelRef.parse(text))
    try:
        index = repository_index(triton)
        if name not in {n for n, _, _ in index}:
            raise RoutingError(
                f"no model {name!r} in the model repository; it has {describe(index)}"
            )
        if not versions_of(index, name) and not triton.is_model_ready(name):
            triton.load_model(name)  # a model folder Triton has not loaded yet
            index = repository_index(triton)
        versions = versions_of(index, name)
        if not versions:
            raise RoutingError(f"model {name!r} has no version Triton can load")
        ref = ModelRef.parse(text, default_version=versions[-1])
        check_card(repository, ref)
        if ref.version not in versions:
            # a version exported after Triton last looked: loading the model re-reads it
            triton.load_model(name)
            versions = versions_of(repository_index(triton), name)
            if ref.version not in versions:
                raise RoutingError(
                    f"{ref} is not in the model repository; {name} has versions "
                    f"{', '.join(versions)}"
                )
        if not triton.is_model_ready(ref.name, ref.version):
            triton.load_model(ref.name)
            if not triton.is_model_ready(ref.name, ref.version):
                raise RoutingError(f"{ref} is in the repository but Triton cannot load it")
    except InferenceServerException as exc:
        raise RoutingError(f"Triton: {exc.message() or exc}") from exc
    return ref

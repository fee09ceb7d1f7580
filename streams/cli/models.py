"""`streamscore models list | add | promote | shadow add | shadow remove`: model versions and
their live routing.

Routing is one value in Redis per project (streams/routing/) that every worker re-reads each
second, so a change here reaches running workers without a restart. A model version is only
routed once Triton reports it ready; it is loaded first when it is not. `models add` puts a
model trained elsewhere in the repository as the next version; it never changes who decides:
the primary is stored before, the first time it is chosen, and only `promote`, `rollback`
and the guard change it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import redis
import tritonclient.grpc as grpcclient
import typer
from rich.table import Table
from tritonclient.utils import InferenceServerException

from streams.cli.common import Bootstrap, RedisUrl, TritonUrl, fail, given, out
from streams.routing import ModelRef, Routing, RoutingError
from streams.routing import state as routing_state
from streams.routing.catalog import newest_ready, ready_ref, repository_index

if TYPE_CHECKING:
    from inference.repository import ModelRepository

models_cli = typer.Typer(help="List models and change which one is primary or a shadow.")
shadow_cli = typer.Typer(help="Add or remove shadow models.")
models_cli.add_typer(shadow_cli, name="shadow")


def _clients(
    redis_url: str | None, triton_url: str | None
) -> tuple[redis.Redis, grpcclient.InferenceServerClient]:
    from streams.worker.settings import WorkerSettings

    settings = WorkerSettings(**given(redis={"url": redis_url}, triton={"grpc_url": triton_url}))
    return settings.redis.client(), settings.triton.client()


@contextmanager
def _session(
    redis_url: str | None, triton_url: str | None
) -> Iterator[tuple[redis.Redis, grpcclient.InferenceServerClient]]:
    """Both clients, closed at the end; their errors (and routing refusals) as one line."""
    store, triton = _clients(redis_url, triton_url)
    try:
        yield store, triton
    except (RoutingError, InferenceServerException, redis.RedisError) as exc:
        raise fail(exc) from None
    finally:
        store.close()
        triton.close()


def repository() -> ModelRepository:
    """The model repository Triton serves (``STREAMSCORE_MODEL_REPOSITORY``): its versions'
    cards are checked before one is routed (a version not in it is left to Triton)."""
    from inference.repository import ModelRepository
    from streams.worker.settings import WorkerSettings

    return ModelRepository(WorkerSettings().model_repository)


def _show(routing: Routing) -> None:
    out.print(routing.describe())


def _current(store: redis.Redis) -> Routing | None:
    return routing_state.read_sync(store, _key())


def _key() -> str:
    from schemas.project import load_project

    return routing_state.routing_key(load_project().name)


def _default(triton: grpcclient.InferenceServerClient) -> Routing | None:
    """What a worker starting now would choose: the newest ready version of the project's
    first model."""
    from schemas.project import load_project

    name = load_project().default_model.name
    newest = newest_ready(repository_index(triton), name)
    return Routing(ModelRef(name, newest)) if newest else None


def _effective(
    store: redis.Redis, triton: grpcclient.InferenceServerClient
) -> tuple[Routing | None, bool]:
    """The stored routing; without one, what a worker starting now would score with,
    flagged as the default (nothing is stored: listing changes nothing)."""
    current = _current(store)
    if current is not None:
        return current, False
    default = _default(triton)
    return (default, True) if default is not None else (None, False)


def _chosen(store: redis.Redis, triton: grpcclient.InferenceServerClient) -> Routing | None:
    """The stored routing, or the default stored now as the first choice of a primary
    (before a change that must not move it)."""
    current = _current(store)
    if current is not None:
        return current
    default = _default(triton)
    return None if default is None else routing_state.store_first_sync(store, _key(), default)


def _run(action: str, redis_url: str | None, triton_url: str | None, target: str) -> None:
    with _session(redis_url, triton_url) as (store, triton):
        key = _key()
        if action == "remove":
            current = _current(store)
            if current is None:
                raise RoutingError("no routing stored yet: nothing to remove")
            name, _, version = target.partition(":")
            _, new = routing_state.update_sync(
                store, key, lambda c: _must(c).remove_shadow(name, version)
            )
        else:
            current = _chosen(store, triton)  # before the new version could be the default
            ref = ready_ref(triton, target, repository())
            if current is None:
                raise RoutingError("no primary yet: start a worker or `models promote` first")
            _, new = routing_state.update_sync(store, key, lambda c: _must(c).add_shadow(ref))
    _show(new)


def _must(current: Routing | None) -> Routing:
    if current is None:
        raise RoutingError("the routing was removed meanwhile: try again")
    return current


@models_cli.command("list")
def list_models(redis_url: RedisUrl = None, triton_url: TritonUrl = None) -> None:
    """Every model version Triton knows, its state, and its role in the routing."""
    with _session(redis_url, triton_url) as (store, triton):
        current, default = _effective(store, triton)
        rows = repository_index(triton)
    table = Table("model", "version", "state", "role")
    for name, version, state in rows:
        ref = ModelRef(name, version)
        role = ""
        if current and ref == current.primary:
            role = "primary (default: no routing stored)" if default else "primary"
        elif current and current.canary and ref == current.canary.model:
            role = f"canary ({current.canary.percent:g}%)"
            role += ", shadow" if ref in current.shadows else ""
        elif current and ref in current.shadows:
            role = "shadow"
        elif current and ref == current.previous:
            role = "previous primary"
        table.add_row(name, version, state, role)
    out.print(table)


@models_cli.command()
def promote(
    target: Annotated[str, typer.Argument(help="NAME[:VERSION]; newest version if omitted.")],
    since: Annotated[
        str, typer.Option(help="Judge on the shadow outputs of this recent range.")
    ] = "1h",
    report: Annotated[
        Path | None, typer.Option(help="Judge on this report.json instead of reading Kafka.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even when the rule says otherwise.")
    ] = False,
    redis_url: RedisUrl = None,
    triton_url: TritonUrl = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Make NAME[:VERSION] the primary, if the promotion rule (the one `report shadow` applies)
    says promote; running workers switch within a second."""
    from streams.cli.canary import announce
    from streams.cli.promotion import judge, record

    with _session(redis_url, triton_url) as (store, triton):
        current = _chosen(store, triton)
        ref = ready_ref(triton, target, repository())
        if current is not None and current.primary == ref:
            out.print(f"{ref} is already the primary")
            return
        verdict = judge(ref, current, since, report, bootstrap) if current else None
        if verdict is not None and verdict.verdict != "promote":
            record(store, ref, current, verdict, forced=force)
            if not force:
                raise RoutingError(
                    f"refused: {verdict.line} (the rule must say promote; --force overrides)"
                )
        new = current.promote(ref) if current else Routing(ref)
        routing_state.write_sync(store, _key(), new)
        if verdict is not None and verdict.verdict == "promote":
            record(store, ref, current, verdict, forced=False)
    _show(new)
    why = verdict.line if verdict is not None else "no routing stored before"
    announce("promote", str(ref), ("forced: " if force else "") + why, current, new, bootstrap)


@shadow_cli.command("add")
def shadow_add(
    target: Annotated[str, typer.Argument(help="NAME[:VERSION]; newest version if omitted.")],
    redis_url: RedisUrl = None,
    triton_url: TritonUrl = None,
) -> None:
    """Score every batch with NAME[:VERSION] too, into the shadow topic."""
    _run("add", redis_url, triton_url, target)


@shadow_cli.command("remove")
def shadow_remove(
    target: Annotated[str, typer.Argument(help="NAME (all its versions) or NAME:VERSION.")],
    redis_url: RedisUrl = None,
    triton_url: TritonUrl = None,
) -> None:
    """Stop shadowing NAME (or one version of it)."""
    _run("remove", redis_url, triton_url, target)


def register(cli: typer.Typer) -> None:
    from streams.cli.canary import register_canary
    from streams.cli.cards import register_cards
    from streams.cli.guard import register_guard
    from streams.cli.models_add import add

    models_cli.command("add")(add)
    register_canary(models_cli)
    register_cards(models_cli)
    register_guard(models_cli)
    cli.add_typer(models_cli, name="models")

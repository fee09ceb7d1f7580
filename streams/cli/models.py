"""`streamscore models list | promote | shadow add | shadow remove`: live model routing.

Routing is one value in Redis (streams/routing/) that every worker re-reads each second,
so a change here reaches running workers without a restart. A model version is only routed
once Triton reports it ready; it is loaded first when it is not.
"""

from __future__ import annotations

from typing import Annotated

import redis
import tritonclient.grpc as grpcclient
import typer
from rich.table import Table
from tritonclient.utils import InferenceServerException

from streams.cli.common import RedisUrl, TritonUrl, fail, given, out
from streams.routing import ModelRef, Routing, RoutingError
from streams.routing import state as routing_state

models_cli = typer.Typer(help="List models and change which one is primary or a shadow.")
shadow_cli = typer.Typer(help="Add or remove shadow models.")
models_cli.add_typer(shadow_cli, name="shadow")


def _clients(
    redis_url: str | None, triton_url: str | None
) -> tuple[redis.Redis, grpcclient.InferenceServerClient]:
    from streams.worker.settings import WorkerSettings

    settings = WorkerSettings(**given(redis={"url": redis_url}, triton={"grpc_url": triton_url}))
    return settings.redis.client(), settings.triton.client()


def _index(triton: grpcclient.InferenceServerClient) -> list[tuple[str, str, str]]:
    return sorted((m.name, m.version, m.state) for m in triton.get_model_repository_index().models)


def _ready_ref(triton: grpcclient.InferenceServerClient, text: str) -> ModelRef:
    """Parse NAME[:VERSION]; default to the newest version; load it when it is not ready."""
    name = text.partition(":")[0]
    index = _index(triton)
    if name not in {n for n, _, _ in index}:  # not even a folder in the repository
        raise RoutingError(f"Triton's repository has no model {name!r}")
    versions = [v for n, v, _ in index if n == name and v]
    if not versions and not triton.is_model_ready(name):
        triton.load_model(name)  # a model folder Triton has not loaded yet
        versions = [v for n, v, _ in _index(triton) if n == name and v]
    if not versions:
        raise RoutingError(f"Triton's repository has no model {name!r}")
    ref = ModelRef.parse(text, default_version=max(versions, key=int))
    if not triton.is_model_ready(ref.name, ref.version):
        triton.load_model(ref.name)
        if not triton.is_model_ready(ref.name, ref.version):
            raise RoutingError(f"{ref} is not ready on Triton (is the version exported?)")
    return ref


def _current(store: redis.Redis) -> Routing | None:
    return routing_state.read_sync(store)


def _run(action: str, redis_url: str | None, triton_url: str | None, target: str) -> None:
    store, triton = _clients(redis_url, triton_url)
    try:
        if action == "remove":
            current = _current(store)
            if current is None:
                raise RoutingError("no routing stored yet: nothing to remove")
            name, _, version = target.partition(":")
            new = current.remove_shadow(name, version)
        else:
            ref = _ready_ref(triton, target)
            current = _current(store)
            if action == "promote":
                new = current.promote(ref) if current else Routing(ref)
            else:
                if current is None:
                    raise RoutingError("no primary yet: start a worker or `models promote` first")
                new = current.add_shadow(ref)
        routing_state.write_sync(store, new)
    except (RoutingError, InferenceServerException, redis.RedisError) as exc:
        raise fail(exc) from None
    finally:
        store.close()
        triton.close()
    out.print(f"primary {new.primary}; shadows {', '.join(map(str, new.shadows)) or 'none'}")


@models_cli.command("list")
def list_models(redis_url: RedisUrl = None, triton_url: TritonUrl = None) -> None:
    """Every model version Triton knows, its state, and its role in the routing."""
    store, triton = _clients(redis_url, triton_url)
    try:
        current = _current(store)
        rows = _index(triton)
    except (RoutingError, InferenceServerException, redis.RedisError) as exc:
        raise fail(exc) from None
    finally:
        store.close()
        triton.close()
    table = Table("model", "version", "state", "role")
    for name, version, state in rows:
        ref = ModelRef(name, version)
        role = ""
        if current and ref == current.primary:
            role = "primary"
        elif current and ref in current.shadows:
            role = "shadow"
        table.add_row(name, version, state, role)
    out.print(table)


@models_cli.command()
def promote(
    target: Annotated[str, typer.Argument(help="NAME[:VERSION]; newest version if omitted.")],
    redis_url: RedisUrl = None,
    triton_url: TritonUrl = None,
) -> None:
    """Make NAME[:VERSION] the primary model; running workers switch within a second."""
    _run("promote", redis_url, triton_url, target)


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
    cli.add_typer(models_cli, name="models")

"""`streamscore models canary | rollback`: let a challenger decide for a sticky share of
entities, move the share, and take it back at once.

Both write the routing value (streams/routing/state.py) in one watched read-modify-write, so
a concurrent writer (the guard, the retraining worker, another operator) is never lost, and
every worker applies the change at its next routing refresh (``STREAMSCORE_ROUTING_REFRESH_S``,
1 s) without a restart.

A canary must already be loaded on Triton: it decides for real users, so it should have been
watched as a shadow first (`models shadow add` loads it). A percent outside 0-100, a version
that is not loaded, or a rollback with nothing to roll back each exits 1 with one line.
"""

from __future__ import annotations

import math
from typing import Annotated

import redis
import tritonclient.grpc as grpcclient
import typer

from streams.cli.common import RedisUrl, TritonUrl, out
from streams.routing import ModelRef, Routing, RoutingError
from streams.routing import state as routing_state
from streams.routing.catalog import repository_index, versions_of


def loaded_ref(triton: grpcclient.InferenceServerClient, text: str) -> ModelRef:
    """NAME:VERSION of a version Triton reports READY; never loads one."""
    index = repository_index(triton)
    name = text.partition(":")[0]
    versions = versions_of(index, name)
    ref = ModelRef.parse(text, default_version=versions[-1] if versions else "")
    ready = [v for n, v, state in index if n == name and v and state == "READY"]
    if ref.version not in ready:
        where = f"ready: {', '.join(ready)}" if ready else "none of its versions is ready"
        raise RoutingError(
            f"{ref} is not loaded on Triton ({where}); `streamscore models shadow add {ref}` "
            "loads it and watches it as a shadow first"
        )
    return ref


def check_percent(percent: float) -> float:
    if not math.isfinite(percent) or not 0 <= percent <= 100:
        raise RoutingError(f"--percent must be within 0-100, got {percent:g}")
    return percent


def set_canary(
    store: redis.Redis, triton: grpcclient.InferenceServerClient, target: str, percent: float
) -> tuple[Routing | None, Routing]:
    check_percent(percent)
    ref = loaded_ref(triton, target)

    def change(current: Routing | None) -> Routing:
        if current is None:
            raise RoutingError("no routing stored yet: start a worker or `models promote` first")
        return current.with_canary(ref, percent)

    return routing_state.update_sync(store, change)


def rollback(store: redis.Redis) -> tuple[Routing | None, Routing]:
    def change(current: Routing | None) -> Routing:
        if current is None:
            raise RoutingError("no routing stored yet: nothing to roll back")
        return current.rollback()

    return routing_state.update_sync(store, change)


def register_canary(models_cli: typer.Typer) -> None:
    from streams.cli.models import _session

    @models_cli.command()
    def canary(
        target: Annotated[str, typer.Argument(help="NAME[:VERSION] already loaded on Triton.")],
        percent: Annotated[
            float, typer.Option(help="Share of entities (0-100) the canary decides for.")
        ],
        redis_url: RedisUrl = None,
        triton_url: TritonUrl = None,
    ) -> None:
        """Let NAME:VERSION decide for a sticky PERCENT of entities (by a hash of entity_id);
        the same command again moves the share. Shadows keep running."""
        with _session(redis_url, triton_url) as (store, triton):
            _, new = set_canary(store, triton, target, percent)
        out.print(new.describe())

    @models_cli.command("rollback")
    def rollback_command(redis_url: RedisUrl = None, triton_url: TritonUrl = None) -> None:
        """End the canary (every entity back on the primary); with no canary running, bring
        back the primary before the last promotion. Workers follow within one refresh."""
        with _session(redis_url, triton_url) as (store, _):
            before, new = rollback(store)
        what = (
            f"canary {before.canary.model} ended"
            if before is not None and before.canary is not None
            else f"rolled back to {new.primary}"
        )
        out.print(f"{what}: {new.describe()}")


__all__ = ["loaded_ref", "register_canary", "rollback", "set_canary"]

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
from pydantic import ValidationError

from streams.cli.common import Bootstrap, RedisUrl, TritonUrl, error, given, out
from streams.routing import ModelRef, Routing, RoutingError
from streams.routing import state as routing_state
from streams.routing.catalog import check_card, repository_index, versions_of


def loaded_ref(triton: grpcclient.InferenceServerClient, text: str) -> ModelRef:
    """NAME:VERSION of a version Triton reports READY (and whose card parses); never loads
    one."""
    from streams.cli.models import repository

    index = repository_index(triton)
    name = text.partition(":")[0]
    versions = versions_of(index, name)
    ref = ModelRef.parse(text, default_version=versions[-1] if versions else "")
    ready = [v for n, v, state in index if n == name and v and state == "READY"]
    check_card(repository(), ref)
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

    return routing_state.update_sync(store, _key(), change)


def _key() -> str:
    from schemas.project import load_project

    return routing_state.routing_key(load_project().name)


def rollback(store: redis.Redis) -> tuple[Routing | None, Routing]:
    def change(current: Routing | None) -> Routing:
        if current is None:
            raise RoutingError("no routing stored yet: nothing to roll back")
        return current.rollback()

    return routing_state.update_sync(store, _key(), change)


def announce(
    kind: str, model: str, reason: str, before: Routing | None, after: Routing,
    bootstrap: str | None,
) -> None:  # fmt: skip
    """The change on `models.events` (streams/guard/events.py). The routing has already
    changed: an event that cannot be published is a warning, never a failed command."""
    from streams.client import ClientSettings
    from streams.client.errors import ClientError
    from streams.guard.events import publish_model_event

    try:
        settings = ClientSettings(**given(kafka={"bootstrap": bootstrap}))
        publish_model_event(settings, kind, model, reason, None, before, after, timeout_s=5.0)
    except (ClientError, ValidationError) as exc:
        error(f"warning: the routing changed, but no event reached models.events: {exc}")


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
        bootstrap: Bootstrap = None,
    ) -> None:
        """Let NAME:VERSION decide for a sticky PERCENT of entities (by a hash of entity_id);
        the same command again moves the share. Shadows keep running."""
        with _session(redis_url, triton_url) as (store, triton):
            before, new = set_canary(store, triton, target, percent)
        out.print(new.describe())
        assert new.canary is not None
        reason = f"canary at {percent:g}% of entities"
        announce("canary", str(new.canary.model), reason, before, new, bootstrap)

    @models_cli.command("rollback")
    def rollback_command(
        redis_url: RedisUrl = None, triton_url: TritonUrl = None, bootstrap: Bootstrap = None
    ) -> None:
        """End the canary (every entity back on the primary); with no canary running, bring
        back the primary before the last promotion. Workers follow within one refresh."""
        with _session(redis_url, triton_url) as (store, _):
            before, new = rollback(store)
        assert before is not None
        if before.canary is not None:
            model, what = str(before.canary.model), f"canary {before.canary.model} ended"
        else:
            model, what = str(before.primary), f"rolled back to {new.primary}"
        out.print(f"{what}: {new.describe()}")
        announce("rollback", model, f"operator: {what}", before, new, bootstrap)


__all__ = ["loaded_ref", "register_canary", "rollback", "set_canary"]

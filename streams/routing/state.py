"""Which model version is primary and which are shadows: one JSON value in Redis.

:class:`Routing` names versions (``scorer:2``); :class:`RoutedModels` is the same routing
resolved to models that can score. Every worker re-reads the value each second
(streams/routing/live.py), so `streamscore models promote` takes effect without a restart.
docs/architecture.md, "Routing", says why it lives in Redis. Each project has its own value
(:func:`routing_key`): two use cases can share one Redis.

The primary is stored the first time it is chosen (`streamscore up`, or a worker's first
start, with SET NX: a value already there wins) and changes only through `models promote`,
`models rollback` and the guard: a new version never makes itself the primary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import redis
import redis.asyncio as aioredis

from inference.contract import Model
from infra.errors import StreamScoreError


def routing_key(project: str) -> str:
    """The Redis key of project ``project``'s routing value."""
    return f"streamscore:{project}:routing"


class RoutingError(StreamScoreError):
    """A routing value or a model reference that cannot be used."""


@dataclass(frozen=True, slots=True, order=True)
class ModelRef:
    name: str
    version: str

    @classmethod
    def parse(cls, text: str, default_version: str = "") -> ModelRef:
        """``name:version`` or ``name`` (the version is then ``default_version``)."""
        name, _, version = text.partition(":")
        if not name or (not version and not default_version):
            raise RoutingError(f"expected NAME:VERSION, got {text!r}")
        if version and not version.isdigit():
            raise RoutingError(f"version must be a number, got {version!r} in {text!r}")
        return cls(name, version or default_version)

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True, slots=True)
class Canary:
    """A challenger that decides for a sticky ``percent`` of entities (streams/routing/split.py)."""

    model: ModelRef
    percent: float

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 100:
            raise RoutingError(f"a canary's percent must be within 0-100, got {self.percent:g}")


@dataclass(frozen=True, slots=True)
class Routing:
    """``previous`` is the primary before the last promotion: what `models rollback` restores
    when no canary is running (with one running, a rollback just ends the canary)."""

    primary: ModelRef
    shadows: tuple[ModelRef, ...] = field(default_factory=tuple)
    canary: Canary | None = None
    previous: ModelRef | None = None

    def to_json(self) -> str:
        data: dict[str, object] = {
            "primary": str(self.primary),
            "shadows": [str(s) for s in self.shadows],
        }
        if self.canary is not None:
            data["canary"] = {"model": str(self.canary.model), "percent": self.canary.percent}
        if self.previous is not None:
            data["previous"] = str(self.previous)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Routing:
        try:
            data = json.loads(text)
            canary = data.get("canary")
            previous = data.get("previous")
            return cls(
                ModelRef.parse(data["primary"]),
                tuple(ModelRef.parse(s) for s in data.get("shadows", [])),
                None if canary is None else
                Canary(ModelRef.parse(canary["model"]), float(canary["percent"])),
                None if previous is None else ModelRef.parse(previous),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise RoutingError(f"unreadable routing value: {exc}") from exc

    def promote(self, ref: ModelRef) -> Routing:
        """``ref`` becomes primary; it stops being a shadow; the old primary is dropped but
        remembered for a rollback. A running canary ends: it was judged against the old one."""
        if ref == self.primary:
            return self
        return Routing(ref, tuple(s for s in self.shadows if s != ref), None, self.primary)

    def add_shadow(self, ref: ModelRef) -> Routing:
        if ref == self.primary:
            raise RoutingError(f"{ref} is the primary; it cannot also be a shadow")
        if ref in self.shadows:
            return self
        return replace(self, shadows=(*self.shadows, ref))

    def remove_shadow(self, name: str, version: str = "") -> Routing:
        def keep(s: ModelRef) -> bool:
            return not (s.name == name and (not version or s.version == version))

        kept = tuple(s for s in self.shadows if keep(s))
        if kept == self.shadows:
            raise RoutingError(f"{name}{':' + version if version else ''} is not a shadow")
        return replace(self, shadows=kept)

    def with_canary(self, ref: ModelRef, percent: float) -> Routing:
        """``ref`` decides for ``percent`` % of entities; the same call again moves the share."""
        if ref == self.primary:
            raise RoutingError(f"{ref} is the primary; it cannot also be its canary")
        if self.canary is not None and self.canary.model != ref:
            raise RoutingError(
                f"{self.canary.model} is already the canary; `models rollback` ends it first"
            )
        return replace(self, canary=Canary(ref, percent))

    def rollback(self) -> Routing:
        """End the canary; without one, bring back the previous primary."""
        if self.canary is not None:
            return replace(self, canary=None)
        if self.previous is None:
            raise RoutingError(
                f"nothing to roll back: no canary is running and {self.primary} has no "
                "previous primary"
            )
        shadows = tuple(s for s in self.shadows if s != self.previous)
        return Routing(self.previous, shadows)

    def describe(self) -> str:
        """``primary scorer:2; canary scorer:3 at 10%; shadows challenger:1``."""
        parts = [f"primary {self.primary}"]
        if self.canary is not None:
            parts.append(f"canary {self.canary.model} at {self.canary.percent:g}%")
        parts.append(f"shadows {', '.join(map(str, self.shadows)) or 'none'}")
        if self.previous is not None:
            parts.append(f"previous {self.previous}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class RoutedModels:
    """A routing resolved to models: the primary and the shadows that score each batch.

    Immutable, so a batch takes one snapshot and keeps it: a routing change in the middle
    of a batch cannot mix the primary of one routing with the outputs of another.
    """

    primary: Model
    shadows: tuple[Model, ...] = ()
    canary: Model | None = None
    canary_percent: float = 0.0


def read_sync(client: redis.Redis, key: str) -> Routing | None:
    raw = client.get(key)
    return None if raw is None else Routing.from_json(raw)


def write_sync(client: redis.Redis, key: str, routing: Routing) -> None:
    client.set(key, routing.to_json())


def store_first_sync(client: redis.Redis, key: str, routing: Routing) -> Routing:
    """Store ``routing`` unless one is stored already (SET NX); the one stored after."""
    client.set(key, routing.to_json(), nx=True)
    stored = read_sync(client, key)
    return routing if stored is None else stored


async def read(client: aioredis.Redis, key: str) -> Routing | None:
    raw = await client.get(key)
    return None if raw is None else Routing.from_json(raw)


def update_sync(
    client: redis.Redis, key: str, change: Callable[[Routing | None], Routing]
) -> tuple[Routing | None, Routing]:
    """Read, change and write the routing as one watched transaction: a concurrent writer
    (another CLI, the canary guard, the retraining worker) makes it retry, never lose a
    change. Returns (before, after); ``change`` raises RoutingError to refuse."""
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                raw = pipe.get(key)
                before = None if raw is None else Routing.from_json(raw)
                after = change(before)
                pipe.multi()
                pipe.set(key, after.to_json())
                pipe.execute()
                return before, after
            except redis.WatchError:
                continue

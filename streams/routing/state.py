"""Which model version is primary and which are shadows: one JSON value in Redis.

:class:`Routing` names versions (``scorer:2``); :class:`RoutedModels` is the same routing
resolved to models that can score. Every worker re-reads the value each second
(streams/routing/live.py), so `streamscore models promote` takes effect without a restart.
docs/architecture.md, "Routing", says why it lives in Redis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis

from inference.contract import Model
from infra.errors import StreamScoreError

ROUTING_KEY = "streamscore:routing"


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
class Routing:
    primary: ModelRef
    shadows: tuple[ModelRef, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps({"primary": str(self.primary), "shadows": [str(s) for s in self.shadows]})

    @classmethod
    def from_json(cls, text: str | bytes) -> Routing:
        try:
            data = json.loads(text)
            return cls(
                ModelRef.parse(data["primary"]),
                tuple(ModelRef.parse(s) for s in data.get("shadows", [])),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise RoutingError(f"unreadable routing value: {exc}") from exc

    def promote(self, ref: ModelRef) -> Routing:
        """``ref`` becomes primary; it stops being a shadow; the old primary is dropped."""
        return Routing(ref, tuple(s for s in self.shadows if s != ref))

    def add_shadow(self, ref: ModelRef) -> Routing:
        if ref == self.primary:
            raise RoutingError(f"{ref} is the primary; it cannot also be a shadow")
        if ref in self.shadows:
            return self
        return Routing(self.primary, (*self.shadows, ref))

    def remove_shadow(self, name: str, version: str = "") -> Routing:
        def keep(s: ModelRef) -> bool:
            return not (s.name == name and (not version or s.version == version))

        kept = tuple(s for s in self.shadows if keep(s))
        if kept == self.shadows:
            raise RoutingError(f"{name}{':' + version if version else ''} is not a shadow")
        return Routing(self.primary, kept)


@dataclass(frozen=True, slots=True)
class RoutedModels:
    """A routing resolved to models: the primary and the shadows that score each batch.

    Immutable, so a batch takes one snapshot and keeps it: a routing change in the middle
    of a batch cannot mix the primary of one routing with the outputs of another.
    """

    primary: Model
    shadows: tuple[Model, ...] = ()


def read_sync(client: redis.Redis) -> Routing | None:
    raw = client.get(ROUTING_KEY)
    return None if raw is None else Routing.from_json(raw)


def write_sync(client: redis.Redis, routing: Routing) -> None:
    client.set(ROUTING_KEY, routing.to_json())


async def read(client: aioredis.Redis) -> Routing | None:
    raw = await client.get(ROUTING_KEY)
    return None if raw is None else Routing.from_json(raw)

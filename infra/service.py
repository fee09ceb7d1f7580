"""What every local service launcher offers, and the health report they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Health:
    """The result of a real health check: a metadata request, a PING, a model-ready call."""

    name: str
    address: str
    healthy: bool
    version: str = ""
    detail: str = ""


class Service(Protocol):
    name: str

    def ensure_installed(self) -> None:
        """Fetch or install what the service needs; a no-op when it is already there."""

    def start(self) -> bool:
        """Start and wait until healthy. False when it was already running."""

    def stop(self) -> bool:
        """Stop and leave no process behind. False when nothing ran."""

    def ports(self) -> dict[str, int]:
        """The ports it listens on, keyed by their setting name."""

    def running(self) -> bool:
        """A process started under this state folder is alive."""

    def health(self) -> Health: ...

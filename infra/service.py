"""What every local service launcher offers, and the health report they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from infra.process import ManagedProcess, require_free_ports

if TYPE_CHECKING:
    from infra.settings import ServicesSettings


@dataclass(frozen=True, slots=True)
class Health:
    """The result of a real health check: a metadata request, a PING, a model-ready call."""

    name: str
    address: str
    healthy: bool
    version: str = ""
    detail: str = ""


class Service(Protocol):
    @property
    def name(self) -> str: ...

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


class LocalService:
    """A server run as a :class:`ManagedProcess` under ``<state_dir>/<name>/``; subclasses
    add how it is installed, started and checked."""

    name: ClassVar[str]
    stop_timeout_s: ClassVar[float] = 20.0

    def __init__(self, config: ServicesSettings) -> None:
        self.config = config
        self.home = config.state_dir / self.name
        self.process = ManagedProcess(self.name, self.home)

    def start(self) -> bool:
        """Start and wait until healthy. False when it was already running."""
        if self.process.running():
            return False
        self.ensure_installed()
        require_free_ports(self.name, self.config.host, self.ports())
        self._launch()
        self.process.wait_healthy(lambda: self.health().healthy, self.config.start_timeout_s)
        return True

    def ensure_installed(self) -> None:
        raise NotImplementedError

    def ports(self) -> dict[str, int]:
        raise NotImplementedError

    def health(self) -> Health:
        raise NotImplementedError

    def _launch(self) -> None:
        """Start the server process (the checks before and the wait after are done here)."""
        raise NotImplementedError

    def running(self) -> bool:
        return self.process.running()

    def stop(self) -> bool:
        return self.process.stop(timeout_s=self.stop_timeout_s)

    def kill(self) -> bool:
        """SIGKILL: a crash, not a shutdown (what the fault tests inject)."""
        return self.process.kill()

"""The demo's own processes: scoring worker, drift agent, retraining worker (or, in the
canary scenario, the guard), and the traffic.

Each is a real `streamscore` process, started as :class:`infra.process.ManagedProcess` does
for the services: in a session of its own (so a Ctrl-C in the terminal reaches the demo
alone, which then stops them in order), logging to ``<state>/demo/<name>/<name>.log`` and
remembered by a pid file beside it. The pid files are what lets ``streamscore down`` stop a
demo that was itself killed (SIGKILL leaves no chance to clean up); :func:`stop_leftovers`
does that.

The retraining worker runs under ``nice -n 10`` with one torch thread: training a candidate
is batch work, and on a small machine it must not take the cores the scoring path needs to
hold its latency. ``nice`` execs the worker, so the pid file holds the worker's own pid.

The traffic is `streamscore simulate`, a client system of its own as in production: in the
demo's process it would share one interpreter lock with the dashboard and the reader, and
its events would leave late.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.config import Settings, child_environment
from infra.process import ManagedProcess, free_port
from infra.settings import ServicesSettings

NAMES = ("worker", "agent", "retrainer", "guard", "traffic")


def demo_home(config: ServicesSettings) -> Path:
    return config.state_dir / "demo"


@dataclass
class Member:
    """One process of the fleet, with the port of its ``/metrics``."""

    name: str
    process: ManagedProcess
    metrics_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def alive(self) -> bool:
        return self.process.running()

    def log_tail(self, lines: int = 12) -> str:
        return self.process.log_tail(lines)


@dataclass
class Fleet:
    """The processes one demo run started (the run's teardown stops them, last first)."""

    home: Path
    members: dict[str, Member] = field(default_factory=dict)

    def start(
        self,
        name: str,
        settings: Settings,
        args: list[str],
        metrics_port: int = 0,
        nice: int = 0,
        loglevel: str | None = "info",
    ) -> Member:
        process = ManagedProcess(name, self.home / name)
        env = child_environment(settings)
        argv = [sys.executable, "-m", "streams.cli", *args]
        if loglevel is not None:
            argv += ["--loglevel", loglevel]
        if nice and shutil.which("nice"):
            argv = ["nice", "-n", str(nice), *argv]
            env = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        process.start(argv, env=env)
        member = self.members[name] = Member(name, process, metrics_port)
        return member

    def dead(self) -> list[Member]:
        """Members that exited (none should before the demo stops them)."""
        return [m for m in self.members.values() if not m.alive()]

    def describe_death(self, member: Member) -> str:
        return f"the {member.name} exited; the end of its log ({member.process.log_file}):\n" + (
            member.log_tail()
        )


def ports() -> dict[str, int]:
    """A free /metrics port per member: a user's own worker may hold the standard ones."""
    return {name: free_port() for name in NAMES if name != "traffic"}


def stop_leftovers(config: ServicesSettings) -> list[str]:
    """Stop demo processes a killed demo left behind (``streamscore down`` calls this)."""
    home = demo_home(config)
    return [name for name in NAMES if ManagedProcess(name, home / name).stop(timeout_s=20.0)]

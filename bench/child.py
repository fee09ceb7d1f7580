"""A configuration under test, run as its own process group, stopped for sure at the end
(also when the bench itself is told to stop)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from infra.process import log_tail


class Child:
    """A subprocess in its own session: Ctrl-C on the bench does not reach it, and
    :meth:`stop` takes down the whole group (SIGTERM, then SIGKILL)."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path
    ) -> None:
        self.name = name
        self.log = log
        self.killed = False
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 4.0) -> float:
        """Stop the group; returns the seconds it took to exit. ``killed`` says whether it had
        to be SIGKILLed after ``timeout_s`` (nothing is lost: each run has its own topics)."""
        t0 = time.monotonic()
        self.killed = False
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout_s)
            self.killed = self.alive()
        # Whatever is left of the group (also after a clean exit of the leader).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        return time.monotonic() - t0

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log, lines)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every service and child is stopped on the way out."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""Run a server as a detached child with a pid file and a log file, and stop it again.

Each service gets ``<state_dir>/<name>/`` holding ``pid`` and ``<name>.log``. Processes are
started in their own session so that ``stop`` can signal the whole group (Triton forks one
Python stub per model instance; Kafka is one JVM).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from infra.errors import PortInUseError, StartError


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_is_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for tests that start services side by side)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def require_free_ports(service: str, host: str, ports: Mapping[str, int]) -> None:
    for what, port in ports.items():
        if not port_is_free(host, port):
            raise PortInUseError(
                f"{service}: port {port} ({what}) on {host} is taken by another process; "
                f"stop it or choose another port (option --{what.replace('_', '-')} or "
                f"STREAMSCORE_{what.upper()})"
            )


class ManagedProcess:
    """A server process remembered by a pid file under ``home``."""

    def __init__(self, name: str, home: Path) -> None:
        self.name = name
        self.home = home
        self.pid_file = home / "pid"
        self.log_file = home / f"{name}.log"
        # Kept so the child is reaped (and not reported as leaked) when we started it.
        self._child: subprocess.Popen[bytes] | None = None

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _alive(pid):
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> int:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        self._child = proc
        return proc.pid

    def wait_healthy(self, check: Callable[[], bool], timeout_s: float) -> None:
        """Poll ``check`` until it passes; fail early if the process exits. On failure the
        process is stopped, so a failed start leaves nothing running."""
        try:
            self._wait_healthy(check, timeout_s)
        except StartError:
            self.stop(timeout_s=10)
            raise

    def _wait_healthy(self, check: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise StartError(
                    f"{self.name} exited during start-up; last lines of {self.log_file}:\n"
                    + self.log_tail()
                )
            with contextlib.suppress(Exception):
                if check():
                    return
            time.sleep(0.25)
        raise StartError(
            f"{self.name} did not become healthy within {timeout_s:.0f}s; see {self.log_file}:\n"
            + self.log_tail()
        )

    def stop(self, timeout_s: float = 20.0) -> bool:
        """SIGTERM the process group, SIGKILL it after ``timeout_s``. True if something ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            if self._child is not None and self._child.poll() is not None:
                self._child = None  # ours, stopped by another process (`down`): now reaped
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.1)
        self._killed(pid)
        return True

    def kill(self) -> bool:
        """SIGKILL the process group at once, as a crash would: no shutdown code runs (the
        fault tests). True if something ran."""
        pid = self.pid()
        if pid is None:
            return False
        self._killed(pid)
        return True

    def _killed(self, pid: int) -> None:
        """SIGKILL what is left of the group, reap our child, forget the pid."""
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _group_alive(pid):
                time.sleep(0.05)
        if self._child is not None and self._child.pid == pid:
            self._child.wait()
            self._child = None
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 15) -> str:
        return log_tail(self.log_file, lines)


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` of a log file, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return _state(pid) not in ("Z", "X", None)


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _group_alive(pgid: int) -> bool:
    """Any live (non-zombie) process left in the group?"""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            _alive(int(entry.name))  # reaps our own zombies
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def basic_logging(loglevel: str) -> None:
    """Log lines of a StreamScore process, at a level named as Faust names them (``crit``,
    ``error``, ``warn``, ``info``, ``debug``), for the processes that do not run Faust."""
    levels = {"crit": logging.CRITICAL, "error": logging.ERROR, "warn": logging.WARNING}
    logging.basicConfig(
        level=levels.get(loglevel, logging.INFO if loglevel == "info" else logging.DEBUG),
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s",
    )

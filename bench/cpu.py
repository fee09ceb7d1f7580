"""CPU time of whole process trees, read from /proc: the broker, Redis, Triton, a worker.

A configuration's cost is not only its own process: the broker it reads and writes, the
feature store and the model server (with its Python-backend stubs) work for it too. So a
sample sums ``utime + stime`` of every live process under each root, plus ``cutime +
cstime`` (children already reaped) of each, and a measurement is the difference of two
samples taken around the measured window. Threads are included: /proc/<pid>/stat counts
all of a process's threads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class _Stat:
    pid: int
    ppid: int
    own: int  # utime + stime, ticks
    reaped: int  # cutime + cstime, ticks


def _read_stat(pid: int) -> _Stat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: split after the last ")".
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14-17.
    return _Stat(pid, int(fields[1]), int(fields[11]) + int(fields[12]),
                 int(fields[13]) + int(fields[14]))  # fmt: skip


def _all_stats() -> dict[int, _Stat]:
    stats: dict[int, _Stat] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read_stat(int(entry))
            if stat is not None:
                stats[stat.pid] = stat
    return stats


def tree_pids(root: int, stats: Mapping[int, _Stat] | None = None) -> list[int]:
    """``root`` and every live descendant of it."""
    stats = stats if stats is not None else _all_stats()
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    out, todo = [], [root] if root in stats else []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def sample(roots: Mapping[str, Iterable[int]]) -> dict[str, float]:
    """CPU-seconds so far of each named group of process trees (one /proc scan)."""
    stats = _all_stats()
    out: dict[str, float] = {}
    for name, pids in roots.items():
        ticks = 0
        for root in pids:
            for pid in tree_pids(root, stats):
                stat = stats[pid]
                ticks += stat.own + stat.reaped
        out[name] = ticks / _TICKS
    return out


def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """Seconds spent by each group between two samples (a group gone by then counts 0)."""
    return {name: max(after.get(name, 0.0) - before.get(name, 0.0), 0.0) for name in before}


def machine_busy() -> float:
    """CPU-seconds the whole machine has been busy (all processes, all cores) since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def own() -> float:
    """CPU-seconds of this process (the bench: its load generator and watcher), no children."""
    t = os.times()
    return t.user + t.system


def background_cores(seconds: float = 1.0) -> float:
    """Cores kept busy by the rest of the machine over ``seconds`` (call before starting)."""
    import time

    busy0, t0 = machine_busy(), time.monotonic()
    time.sleep(seconds)
    return (machine_busy() - busy0) / (time.monotonic() - t0)


def speed_probe(loops: int = 1_000_000, repeats: int = 3) -> float:
    """Seconds for a fixed pure-Python loop (best of ``repeats``). On a shared virtual
    machine the host can slow every process down without any of it showing as busy CPU
    here; comparing probes taken before each configuration tells when that happened."""
    import time

    best = float("inf")
    for _ in range(repeats):
        t0, x = time.perf_counter(), 0
        for i in range(loops):
            x += i
        best = min(best, time.perf_counter() - t0)
    return best

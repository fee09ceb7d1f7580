"""Maximum rate of a configuration on a pre-filled topic, and its CPU cost per event.

The configuration starts on a topic that already holds every event, reading from the
beginning with its own group. Its rate runs from its first output to its last by the
broker's LogAppendTime, so start-up and shutdown are not counted. CPU is sampled for every
process involved (broker, Redis, Triton and its stubs, the configuration's tree) when the
first output shows up and when the run stops, and divided by the outputs in between. The
run stops after ``cap_events`` outputs or ``cap_seconds`` after the first, whichever first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import cpu
from bench.kafka_io import Span, TopicReader

POLL_S = 0.05


class StartTimeout(RuntimeError):
    pass


@dataclass(slots=True)
class Throughput:
    span: Span  # the counted output topic, after the run
    capped_by: str  # "count" or "time"
    window_s: float  # the CPU window, by the bench's clock
    window_events: int
    cpu_s: dict[str, float]  # by process group, over the window
    bench_cpu_s: float = 0.0  # the bench process itself: not counted in cpu_s
    other_cpu_s: float = 0.0  # everything else on the machine: noise, not counted
    other_outputs: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.span.rate

    @property
    def cpu_total_s(self) -> float:
        return sum(self.cpu_s.values())

    @property
    def cpu_per_1k(self) -> float:
        return 1000.0 * self.cpu_total_s / self.window_events if self.window_events else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures a configuration's entry keeps (the JSON)."""
        return {
            "events_per_s": self.rate,
            "outputs": self.span.records,
            "first_ms": self.span.first_ms,
            "last_ms": self.span.last_ms,
            "capped_by": self.capped_by,
            "window_s": self.window_s,
            "window_events": self.window_events,
            "cpu_s": self.cpu_s,
            "cpu_s_per_1k": self.cpu_per_1k,
            "cpu_s_per_1k_by_process": {
                k: 1000 * v / self.window_events if self.window_events else 0.0
                for k, v in self.cpu_s.items()
            },
            "other_outputs": self.other_outputs,
            "bench_cpu_s": self.bench_cpu_s,
            # Busy CPU of processes outside the run (another job on the machine): noise.
            "other_cpu_s": self.other_cpu_s,
            "other_cores": self.other_cpu_s / self.window_s if self.window_s else 0.0,
        }


@dataclass(frozen=True, slots=True)
class Window:
    """Hooks a configuration can add around the measured window (e.g. metrics scrapes)."""

    on_start: Callable[[], Any] = lambda: None
    on_end: Callable[[], Any] = lambda: None


def measure(
    reader: TopicReader,
    output: str,
    other_outputs: Sequence[str],
    roots: Callable[[], Mapping[str, list[int]]],
    alive: Callable[[], bool],
    cap_events: int,
    cap_seconds: float,
    startup_timeout_s: float = 120.0,
    window: Window = Window(),
) -> tuple[Throughput, Any, Any]:
    """Watch ``output`` while the configuration runs; returns the result and the hooks' values.

    The caller stops the configuration afterwards; the span is read after that, so that it
    covers every output written.
    """
    deadline = time.monotonic() + startup_timeout_s
    count = reader.count(output)
    while count == 0:
        if not alive():
            raise StartTimeout("the configuration exited before its first output")
        if time.monotonic() > deadline:
            raise StartTimeout(f"no output within {startup_timeout_s:.0f}s")
        time.sleep(POLL_S)
        count = reader.count(output)
    busy0, own0, before = cpu.machine_busy(), cpu.own(), cpu.sample(roots())
    t0, n0 = time.monotonic(), count
    started = window.on_start()
    capped_by = "count"
    while count < cap_events:
        if time.monotonic() - t0 >= cap_seconds:
            capped_by = "time"
            break
        if not alive():
            raise RuntimeError("the configuration exited during the run")
        time.sleep(POLL_S)
        count = reader.count(output)
    after = cpu.sample(roots())
    busy1, own1 = cpu.machine_busy(), cpu.own()
    t1 = time.monotonic()
    ended = window.on_end()
    result = Throughput(
        span=Span(0, 0, 0),
        capped_by=capped_by,
        window_s=t1 - t0,
        window_events=count - n0,
        cpu_s=cpu.delta(before, after),
    )
    result.bench_cpu_s = own1 - own0
    result.other_cpu_s = max(busy1 - busy0 - result.cpu_total_s - result.bench_cpu_s, 0.0)
    result.other_outputs = {t: 0 for t in other_outputs}
    return result, started, ended


def finish(result: Throughput, reader: TopicReader, output: str) -> Throughput:
    """Read the span and the other outputs' counts once the configuration has stopped."""
    result.span = reader.span(output)
    result.other_outputs = {t: reader.count(t) for t in result.other_outputs}
    return result

"""Event-to-prediction latency under a paced load: 25 %, 50 % and 80 % of the maximum rate.

A fresh instance of the configuration reads a fresh, empty events topic. The bench sends
events stamped ``event_time = now`` at a fixed rate for a few seconds per load, waits for
their outputs, and moves on. Afterwards it reads every output back: latency is the output's
LogAppendTime (broker clock) minus the event_time it carries, and each output belongs to the
load whose sending window holds its event_time. Nothing is decoded while the load runs.

The events topic uses LogAppendTime too, so the same arithmetic on the inputs tells how much
of the latency is the way in (the bench's producer to the broker): on two shared cores the
load generator is part of what is measured, and this shows how large a part.

Before the measured loads, one warm-up load runs at the first load's rate and is discarded:
the first seconds at a new rate carry one-off costs (the broker JVM's JIT and heap, new
producer batches) that are not the configuration's steady state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench import cpu
from bench.kafka_io import TopicReader
from bench.load import PacedSender, Sent
from schemas.codec import AvroCodec

TRICKLE_RATE = 50.0  # events/s until the first output shows the configuration is ready
PERCENTILES = (50, 95, 99)
MOST_DECODED = 150_000  # beyond this, decode an even sample of the records read back


def percentiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    found = np.percentile(np.asarray(values, dtype=np.float64), PERCENTILES)
    out = {f"p{p}": float(v) for p, v in zip(PERCENTILES, found, strict=True)}
    out["max"] = float(max(values))
    return out


@dataclass(slots=True)
class Load:
    fraction: float
    sent: Sent
    caught_up: bool  # every output of this load was out before the next one began
    other_cores: float = 0.0  # cores kept busy by processes outside the run: noise
    sample_step: int = 1  # latencies of every k-th record (see :func:`attribute`)
    latencies_ms: list[int] = field(default_factory=list)
    to_broker_ms: list[int] = field(default_factory=list)  # event_time → input appended

    def summary(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "target_rate": self.sent.rate,
            "achieved_rate": self.sent.achieved,
            "sent": self.sent.sent,
            "received": len(self.latencies_ms) * self.sample_step,  # ≈ when sampled
            "sample_step": self.sample_step,
            "caught_up": self.caught_up,
            # The bench could not send as fast as asked (it shares the cores): a saturated
            # machine, not only the configuration, is measured.
            "generator_kept_up": self.sent.achieved >= 0.95 * self.sent.rate,
            "other_cores": self.other_cores,
            "latency_ms": percentiles(self.latencies_ms),
            "to_broker_ms": percentiles(self.to_broker_ms),
        }


def wait_for_count(
    reader: TopicReader, topic: str, want: int, timeout_s: float, alive: Callable[[], bool]
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if reader.count(topic) >= want:
            return True
        if not alive():
            return False
        time.sleep(0.05)
    return False


def run_loads(
    sender: PacedSender,
    reader: TopicReader,
    output: str,
    max_rate: float,
    fractions: Sequence[float],
    seconds: float,
    max_events: int,
    alive: Callable[[], bool],
    roots: Callable[[], Mapping[str, list[int]]],
    startup_timeout_s: float = 120.0,
    drain_timeout_s: float = 15.0,
) -> list[Load]:
    """Trickle until the first output, warm up, then one paced load per fraction."""
    deadline = time.monotonic() + startup_timeout_s
    sent_total = 0
    while reader.count(output) == 0:  # joined, assigned, connected: ready to be timed
        if time.monotonic() > deadline or not alive():
            raise RuntimeError("no output while waiting for the configuration to start")
        sent_total += sender.run(TRICKLE_RATE, 0.5).sent

    def length(rate: float) -> float:  # capped by time and by count
        return min(seconds, max_events / rate)

    first = max(max_rate * fractions[0], 1.0)
    sent_total += sender.run(first, length(first) / 2).sent
    wait_for_count(reader, output, sent_total, drain_timeout_s, alive)
    loads = []
    for fraction in fractions:
        t0, busy0, own0 = time.monotonic(), cpu.machine_busy(), cpu.own()
        before = cpu.sample(roots())
        rate = max(max_rate * fraction, 1.0)
        sent = sender.run(rate, length(rate))
        after, busy1, own1 = cpu.sample(roots()), cpu.machine_busy(), cpu.own()
        ours = sum(cpu.delta(before, after).values()) + own1 - own0
        other = max(busy1 - busy0 - ours, 0.0) / max(time.monotonic() - t0, 1e-9)
        sent_total += sent.sent
        caught_up = wait_for_count(reader, output, sent_total, drain_timeout_s, alive)
        loads.append(Load(fraction, sent, caught_up, other))
        time.sleep(0.2)
    return loads


def _sampled(records: list[tuple[int, bytes]]) -> tuple[list[tuple[int, bytes]], int]:
    step = max(1, -(-len(records) // MOST_DECODED))
    return records[::step], step


def attribute(
    loads: list[Load],
    outputs: list[tuple[int, bytes]],
    output_codec: AvroCodec,
    inputs: list[tuple[int, bytes]],
    input_codec: AvroCodec,
    output_time: str = "event_time",
    input_time: str = "event_time",
) -> None:
    """Each record's (LogAppendTime - event_time) to the load whose window holds its
    event_time: outputs give the latency, inputs its way-in part. ``output_time`` and
    ``input_time`` name the field that holds it (a prediction's ``event_time``, the
    project's time field in an event: bench/stack.py:time_field). Beyond MOST_DECODED
    records an even sample (every k-th) is decoded; the percentiles stay, seconds are saved."""
    windows = [(ld.sent.first_ms, ld.sent.last_ms, ld) for ld in loads]
    sides = ((outputs, output_codec, output_time, True), (inputs, input_codec, input_time, False))
    for records, codec, time_name, is_output in sides:
        sample, step = _sampled(records)
        for appended_ms, value in sample:
            event_ms = int(codec.decode(value)[time_name].timestamp() * 1000)
            for first, last, load in windows:
                if first <= event_ms <= last:
                    if is_output:
                        load.sample_step = step
                        load.latencies_ms.append(appended_ms - event_ms)
                    else:
                        load.to_broker_ms.append(appended_ms - event_ms)
                    break

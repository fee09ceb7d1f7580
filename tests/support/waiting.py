"""Polling instead of sleeping: wait for a condition, read a worker's metrics."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def metric(text: str, series: str) -> float:
    """Sum of every sample whose line starts with ``series`` (a name, or a name with a
    label selector such as ``streamscore_dlq_total{reason="truncated"}``)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(series) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total

"""SIGTERM (and Ctrl-C) as a flag a loop polls, so a baseline ends with its flush and commit."""

from __future__ import annotations

import signal
import threading


def stop_flag() -> threading.Event:
    flag = threading.Event()

    def _set(signum: int, frame: object) -> None:
        flag.set()

    signal.signal(signal.SIGTERM, _set)
    signal.signal(signal.SIGINT, _set)
    return flag

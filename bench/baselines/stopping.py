"""What every baseline shares: its command line, and SIGTERM (and Ctrl-C) as a flag a loop
polls, so a baseline ends with its flush and commit."""

from __future__ import annotations

import argparse
import signal
import threading


def baseline_parser(description: str, batching: bool = True) -> argparse.ArgumentParser:
    """The options every baseline takes (the bench passes them all alike)."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    for option in ("--bootstrap", "--input", "--output", "--group"):
        parser.add_argument(option, required=True)
    if batching:
        parser.add_argument("--batch-size", type=int, default=512)
        parser.add_argument("--batch-timeout-ms", type=float, default=20.0)
    return parser


def stop_flag() -> threading.Event:
    flag = threading.Event()

    def _set(signum: int, frame: object) -> None:
        flag.set()

    signal.signal(signal.SIGTERM, _set)
    signal.signal(signal.SIGINT, _set)
    return flag

"""Setting StreamScore's variables in a test."""

from __future__ import annotations

import pytest


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """``set_env(mp, BATCH_SIZE="64")`` sets STREAMSCORE_BATCH_SIZE=64 for the test."""
    for name, value in values.items():
        monkeypatch.setenv(f"STREAMSCORE_{name}", value)

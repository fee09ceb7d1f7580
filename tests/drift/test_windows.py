"""Event-time windows: which windows an event belongs to, and when each closes."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from drift.windows import WindowConfig


def test_tumbling_windows_give_each_event_its_one_window() -> None:
    config = WindowConfig(size_s=5.0)
    rows, starts = config.assign(np.array([0, 4_999, 5_000, 12_345]))
    assert rows.tolist() == [0, 1, 2, 3]
    assert starts.tolist() == [0, 0, 5_000, 10_000]


def test_hopping_windows_give_each_event_size_over_hop_windows() -> None:
    config = WindowConfig(size_s=6.0, hop_s=2.0)
    rows, starts = config.assign(np.array([7_000]))
    assert rows.tolist() == [0, 0, 0]
    assert sorted(starts.tolist()) == [2_000, 4_000, 6_000]  # each [s, s + 6 s) holds 7 s
    assert all(s <= 7_000 < s + config.size_ms for s in starts.tolist())


def test_a_window_closes_after_its_end_plus_the_allowed_lateness() -> None:
    config = WindowConfig(size_s=5.0, allowed_lateness_s=2.0)
    assert config.closes_at(10_000) == 17_000


@pytest.mark.parametrize("bad", [{"size_s": 5.0, "hop_s": 5.0}, {"size_s": 5.0, "hop_s": 2.0}])
def test_a_hop_must_be_shorter_than_the_window_and_divide_it(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        WindowConfig(**bad)

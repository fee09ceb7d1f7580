"""The drift agent's plain code over dicts: merging once, closing in order, asking once."""

from __future__ import annotations

import numpy as np
import pytest

from drift.detectors import DetectorConfig
from drift.policy import PolicyConfig
from drift.reference import Reference
from drift.state import Applied, DriftState
from drift.summary import WindowAccumulator
from drift.windows import WindowConfig
from tests.support.projects import FRAUD, sample_features, true_probability

T0 = 1_767_225_600_000
WINDOW = WindowConfig(size_s=5.0, allowed_lateness_s=1.0, idle_close_s=10.0)
RISK = FRAUD.layout.columns.index("merchant_risk")


class Fixed:
    def __init__(self, reference: Reference) -> None:
        self.reference = reference

    def get(self, name: str, version: str) -> Reference | None:
        return self.reference if name == "m" else None


@pytest.fixture(scope="module")
def reference() -> Reference:
    x = sample_features(np.random.default_rng(1), 50_000)
    return Reference.build(x, true_probability(x), inputs=FRAUD.layout.columns)


@pytest.fixture
def state(reference: Reference) -> DriftState:
    return DriftState({}, {}, {}, Fixed(reference), WINDOW, DetectorConfig(), PolicyConfig())


def summaries(reference: Reference, first_s: int, seconds: int, shift: float = 0.0) -> list[dict]:
    """Summaries of 1,000 events a second from ``first_s``, counted as a worker counts them."""
    acc = WindowAccumulator(
        Fixed(reference), WINDOW, producer="w1", feature_columns=FRAUD.layout.feature_columns
    )
    out = []
    for second in range(first_s, first_s + seconds):
        x = sample_features(np.random.default_rng(second), 1_000)
        x[:, RISK] += shift
        times = T0 + second * 1_000 + np.arange(1_000)
        scores = true_probability(x)
        acc.add("m", "1", times, x, scores, np.zeros(1_000, bool), np.zeros(1_000, int))
        out += acc.drain()
    return out


def test_windows_close_once_the_watermark_passes_their_end_and_lateness(
    state: DriftState, reference: Reference
) -> None:
    closed = []
    for s in summaries(reference, 0, 12):
        assert state.apply(s, 0, 0.0) is Applied.APPLIED
        closed += state.close_due("m:1", 0.0)
    # Events up to 11.999 s: window [0, 5) closed at 6 s, [5, 10) needs 11 s: both closed.
    assert [c.window.start_ms for c in closed] == [T0, T0 + 5_000]
    assert [c.window.events for c in closed] == [5_000, 5_000]
    assert all(not c.alerts for c in closed)  # a stationary stream
    assert state.versions["m:1"]["open"] == [T0 + 10_000]


def test_a_summary_applied_twice_counts_once_and_a_late_one_not_at_all(
    state: DriftState, reference: Reference
) -> None:
    batch = summaries(reference, 0, 8)
    for s in batch:
        state.apply(s, 0, 0.0)
    assert state.apply(batch[0], 0, 0.0) is Applied.DUPLICATE
    (closed,) = state.close_due("m:1", 0.0)
    assert closed.window.events == 5_000
    late = {**batch[0], "seq": 99}
    assert state.apply(late, 0, 0.0) is Applied.LATE
    said = state.describe_late(late)  # the agent's log line on it
    assert f"m:1 window {late['window_start']}" in said
    assert f"closed through {closed.window.start_ms}" in said


def test_unknown_versions_and_foreign_bins_are_refused(
    state: DriftState, reference: Reference
) -> None:
    (s,) = summaries(reference, 0, 1)
    assert state.apply({**s, "model_name": "stranger"}, 0, 0.0) is Applied.UNKNOWN_VERSION
    assert state.apply({**s, "n_bins": 3}, 0, 0.0) is Applied.MISMATCH
    assert state.windows == {}


def test_a_shift_raises_alerts_and_one_request_citing_them(
    state: DriftState, reference: Reference
) -> None:
    closed = []
    stream = summaries(reference, 0, 20) + summaries(reference, 20, 40, shift=0.113)
    for s in stream:
        state.apply(s, 0, 100.0)
        closed += state.close_due("m:1", 100.0)
    named = [c for c in closed if any(a["feature"] == "merchant_risk" for a in c.alerts)]
    assert named and named[0].window.start_ms == T0 + 20_000  # the shift's first window
    requests = [c.request for c in closed if c.request]
    assert len(requests) == 1  # the cooldown holds the next ones back
    cited = {a["alert_id"] for c in closed for a in c.alerts}
    assert set(requests[0]["alert_ids"]) <= cited


def test_replaying_a_window_gives_the_same_alert_and_request_ids(reference: Reference) -> None:
    stream = summaries(reference, 0, 10) + summaries(reference, 10, 20, shift=0.3)

    def run() -> list[tuple[list[str], str | None]]:
        state = DriftState({}, {}, {}, Fixed(reference), WINDOW, DetectorConfig(), PolicyConfig())
        out = []
        for s in stream:
            state.apply(s, 0, 5.0)
            out += [
                ([a["alert_id"] for a in c.alerts], c.request and c.request["request_id"])
                for c in state.close_due("m:1", 5.0)
            ]
        return out

    assert run() == run()


def test_a_quiet_version_is_found_and_closed_whole(state: DriftState, reference: Reference) -> None:
    for s in summaries(reference, 0, 3):
        state.apply(s, 2, 50.0)
    assert state.quiet_versions(55.0) == []
    assert state.quiet_versions(60.0) == [("m:1", 2)]
    (closed,) = state.close_due("m:1", 60.0, everything=True)
    assert closed.window.events == 3_000
    assert state.quiet_versions(100.0) == []


def test_a_worker_behind_the_others_holds_the_windows_open(
    state: DriftState, reference: Reference
) -> None:
    ahead = summaries(reference, 0, 20)  # one worker read 20 s of event time
    w2 = [{**s, "producer": "w2"} for s in summaries(reference, 0, 8)]
    behind, late = w2[:3], w2[3:]  # the other has read 3 s so far
    for s in behind + ahead:
        state.apply(s, 0, 0.0)
    assert state.close_due("m:1", 0.0) == []  # w2's events of [0, 5) may still come
    for s in late:
        state.apply(s, 0, 1.0)
    (closed,) = state.close_due("m:1", 1.0)
    assert closed.window.events == 10_000  # every event of both workers, none dropped late
    later = summaries(reference, 20, 1)[0]
    state.apply({**later, "seq": 1_000}, 0, 100.0)  # w2 silent for longer than idle_close_s
    closed_now = state.close_due("m:1", 100.0)  # watermark 20.999 s: [5, 10) and [10, 15)
    assert [c.window.start_ms - T0 for c in closed_now] == [5_000, 10_000]


def test_a_tick_that_comes_after_fresh_summaries_closes_nothing_early(
    state: DriftState, reference: Reference
) -> None:
    first, second = summaries(reference, 0, 2)
    state.apply(first, 1, 0.0)
    assert state.is_quiet("m:1", 20.0)  # the timer would send a tick now...
    state.apply(second, 1, 21.0)  # ...but a summary queued before it is handled first
    assert not state.is_quiet("m:1", 21.0)

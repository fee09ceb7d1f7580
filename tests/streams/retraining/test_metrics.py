"""The retraining worker's metrics without services: one state at a time, each step timed
once as it is left, outcomes counted, and the version shipped kept per model."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from streams.retraining.metrics import OUTCOMES, STATES, STEPS, RetrainingMetrics
from tests.support.dashboard import exposed


def states(metrics: RetrainingMetrics) -> dict[str, float]:
    get = metrics.registry.get_sample_value
    return {s: get("streamscore_retraining_state", {"state": s}) or 0.0 for s in STATES}


def step_count(metrics: RetrainingMetrics, step: str) -> float:
    sample = "streamscore_retraining_step_seconds_count"
    return metrics.registry.get_sample_value(sample, {"step": step}) or 0.0


def test_every_series_exists_from_the_start_and_the_worker_is_idle() -> None:
    metrics = RetrainingMetrics()
    assert states(metrics) == {s: (1.0 if s == "idle" else 0.0) for s in STATES}
    found = exposed(generate_latest(metrics.registry).decode())
    assert found["streamscore_retraining_state"] == {"state"}
    assert found["streamscore_retraining_requests_total"] == {"outcome"}
    assert found["streamscore_retraining_step_seconds_bucket"] == {"step", "le"}
    text = generate_latest(metrics.registry).decode()
    for outcome in OUTCOMES:
        assert f'streamscore_retraining_requests_total{{outcome="{outcome}"}} 0.0' in text
    assert "streamscore_retraining_last_version{" not in text  # no version shipped yet


def test_exactly_one_state_is_one_through_a_request() -> None:
    metrics = RetrainingMetrics()
    for state in [*STEPS, "idle", "reading", "idle"]:
        metrics.enter(state)
        seen = states(metrics)
        assert seen[state] == 1.0 and sum(seen.values()) == 1.0, seen
        assert metrics.state == state
    # Each step observed as it was left: reading twice, the others once; idle never.
    assert [step_count(metrics, s) for s in STEPS] == [2.0, 1.0, 1.0, 1.0, 1.0]
    assert metrics.exported()["streamscore_retraining_state"] == ("gauge", ("state",))


def test_a_step_is_timed_from_entering_it_to_leaving_it() -> None:
    now = [1000.0]
    metrics = RetrainingMetrics(clock=lambda: now[0])
    metrics.enter("training")
    now[0] += 42.0
    metrics.enter("gating")
    total = metrics.registry.get_sample_value(
        "streamscore_retraining_step_seconds_sum", {"step": "training"}
    )
    assert total == 42.0
    bucket = metrics.registry.get_sample_value(
        "streamscore_retraining_step_seconds_bucket", {"step": "training", "le": "30.0"}
    )
    assert bucket == 0.0  # 42 s is above the 30 s bucket


def test_an_unknown_state_is_refused_and_changes_nothing() -> None:
    metrics = RetrainingMetrics()
    metrics.enter("reading")
    with pytest.raises(ValueError, match="unknown retraining state 'sleeping'"):
        metrics.enter("sleeping")
    assert metrics.state == "reading" and step_count(metrics, "reading") == 0.0


def test_outcomes_are_counted_and_an_accepted_one_sets_the_last_version() -> None:
    metrics = RetrainingMetrics()
    metrics.answered("rejected", "scorer", "3")  # exported, then not served: not shipped
    metrics.answered("accepted", "scorer", "4")
    metrics.answered("accepted", "other", "2")
    metrics.requests.labels("duplicate").inc()
    get = metrics.registry.get_sample_value
    counts = {o: get("streamscore_retraining_requests_total", {"outcome": o}) for o in OUTCOMES}
    assert counts == {"accepted": 2.0, "rejected": 1.0, "duplicate": 1.0, "undecodable": 0.0}
    last = "streamscore_retraining_last_version"
    assert (get(last, {"model": "scorer"}), get(last, {"model": "other"})) == (4.0, 2.0)


def test_two_sets_have_their_own_registries() -> None:
    one, two = RetrainingMetrics(), RetrainingMetrics()
    one.enter("loading")
    assert states(two)["idle"] == 1.0 and states(one)["loading"] == 1.0

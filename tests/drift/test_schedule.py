"""Scheduled retraining over a dict and a fake clock: when it fires, how drift requests
reset it, that a restart over the same table does not fire again, and its setting."""

from __future__ import annotations

import doctest

import pytest
from pydantic import ValidationError

import drift.schedule
from drift.policy import PolicyConfig
from drift.schedule import RetrainingSchedule

HOUR = 3600.0


def test_the_docstring_example_runs() -> None:
    result = doctest.testmod(drift.schedule)
    assert result.attempted > 0 and result.failed == 0


def test_it_fires_every_period_after_the_model_is_first_seen() -> None:
    clocks: dict[str, dict[str, float]] = {}
    schedule = RetrainingSchedule(clocks, every_s=24 * HOUR)
    schedule.watch("fraud", partition=2, now_s=1000.0)
    schedule.watch("fraud", partition=3, now_s=5000.0)  # seen again: the clock stays
    assert schedule.due(1000.0 + 24 * HOUR - 1) == []
    assert schedule.fire("fraud", 1000.0 + 24 * HOUR - 1) is None
    assert schedule.due(1000.0 + 24 * HOUR) == [("fraud", 2)]
    first = schedule.fire("fraud", 1000.0 + 24 * HOUR + 5)
    assert first is not None
    assert first["reason"] == "schedule" and first["model_name"] == "fraud"
    assert first["requested_by"] == "drift-agent" and first["alert_ids"] == []
    assert first["requested_at"] == int((1005.0 + 24 * HOUR) * 1000)
    assert (first["from_time"], first["to_time"]) == (None, None)
    # Fired: the clock restarts at the firing, so the next one is a period later.
    assert schedule.fire("fraud", 1005.0 + 24 * HOUR) is None
    assert schedule.due(1005.0 + 48 * HOUR - 1) == []
    second = schedule.fire("fraud", 1005.0 + 48 * HOUR)
    assert second is not None and second["request_id"] != first["request_id"]


def test_a_drift_request_resets_the_clock() -> None:
    schedule = RetrainingSchedule({}, every_s=HOUR)
    schedule.watch("fraud", 0, now_s=0.0)
    schedule.requested("fraud", now_s=3000.0)  # drift, 50 minutes in
    assert schedule.fire("fraud", HOUR) is None  # an hour after first seen: not due
    assert schedule.due(3000.0 + HOUR - 1) == []
    assert schedule.fire("fraud", 3000.0 + HOUR) is not None
    schedule.requested("fraud", now_s=10.0)  # a stale time never moves the clock back
    assert schedule.clocks["fraud"]["clock_s"] == 3000.0 + HOUR


def test_a_restart_over_the_same_table_does_not_fire_again() -> None:
    clocks: dict[str, dict[str, float]] = {}
    before = RetrainingSchedule(clocks, every_s=HOUR)
    before.watch("fraud", 1, now_s=0.0)
    fired = before.fire("fraud", HOUR)
    assert fired is not None
    after = RetrainingSchedule(clocks, every_s=HOUR)  # the table rebuilt from its changelog
    after.watch("fraud", 1, now_s=HOUR + 10)
    assert after.due(HOUR + 10) == [] and after.fire("fraud", HOUR + 10) is None
    assert after.fire("fraud", 2 * HOUR) is not None


def test_the_same_due_time_makes_the_same_request_id() -> None:
    """A tick handled twice (a crash before its ack, the table not yet written) asks once."""
    ids = []
    for _ in range(2):
        schedule = RetrainingSchedule({}, every_s=HOUR)
        schedule.watch("fraud", 0, now_s=0.0)
        request = schedule.fire("fraud", HOUR + 7)
        assert request is not None
        ids.append(request["request_id"])
    assert ids[0] == ids[1]
    other = RetrainingSchedule({}, every_s=HOUR)
    other.watch("other", 0, now_s=0.0)
    assert other.fire("other", HOUR)["request_id"] != ids[0]  # type: ignore[index]


def test_off_writes_nothing_and_never_fires() -> None:
    clocks: dict[str, dict[str, float]] = {}
    schedule = RetrainingSchedule(clocks, every_s=None)
    schedule.watch("fraud", 0, now_s=0.0)
    schedule.requested("fraud", now_s=1.0)
    assert clocks == {} and schedule.due(1e12) == [] and schedule.fire("fraud", 1e12) is None


@pytest.mark.parametrize(("text", "seconds"), [("24h", 86400.0), ("30m", 1800.0), ("90s", 90.0)])
def test_the_period_is_a_duration(text: str, seconds: float) -> None:
    assert PolicyConfig(every=text).every_s == seconds
    assert PolicyConfig.env_names()["every"] == "STREAMSCORE_RETRAIN_EVERY"
    assert PolicyConfig().every_s is None


@pytest.mark.parametrize("text", ["24", "h", "-1h", "1w", ""])
def test_a_bad_period_is_refused_naming_the_format(text: str) -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        PolicyConfig(every=text)

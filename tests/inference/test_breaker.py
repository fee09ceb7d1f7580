"""The circuit breaker's state machine, with an injected clock."""

from __future__ import annotations

import doctest

import pytest

import inference.breaker
from inference.breaker import BreakerState, CircuitBreaker


def test_docstring_examples_run() -> None:
    assert doctest.testmod(inference.breaker).failed == 0


def test_opens_after_threshold_and_recloses_after_a_good_trial() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=2.0, clock=lambda: now[0])
    for _ in range(2):
        breaker.record_failure()
        assert breaker.allow() and breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    now[0] = 1.9
    assert not breaker.allow()
    now[0] = 2.1
    assert breaker.allow() and breaker.state is BreakerState.HALF_OPEN
    breaker.record_failure()  # the trial failed: open again, for another full period
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    now[0] = 4.2
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"reset_after_s": 0}])
def test_rejects_bad_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]

"""The one retry helper: delays, bounded attempts, stopping, and what it retries on."""

from __future__ import annotations

import asyncio

import pytest

from streams.backoff import Backoff, Stopped


class Flaky:
    """Fails ``failures`` times with ``error``, then returns the number of calls."""

    def __init__(self, failures: int, error: Exception = ConnectionError("down")) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.calls


FAST = Backoff(initial_s=0.001, max_s=0.004)


def test_delays_double_up_to_the_maximum_and_stop_with_the_attempts() -> None:
    assert list(Backoff(0.1, 0.5).delays(5)) == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert list(Backoff(0.1, 0.5, attempts=3).delays()) == [0.1, 0.2]
    with pytest.raises(ValueError):
        Backoff(initial_s=0)
    with pytest.raises(ValueError):
        Backoff(attempts=0)


def test_retries_until_the_call_succeeds_and_counts_each_retry() -> None:
    flaky, seen = Flaky(3), []
    result = asyncio.run(FAST.retry(flaky, ConnectionError, "test", on_retry=seen.append))
    assert (result, flaky.calls, len(seen)) == (4, 4, 3)


def test_bounded_attempts_raise_the_last_error() -> None:
    flaky = Flaky(5)
    with pytest.raises(ConnectionError):
        asyncio.run(Backoff(0.001, 0.002, attempts=3).retry(flaky, ConnectionError, "test"))
    assert flaky.calls == 3


def test_an_error_it_does_not_retry_on_propagates_at_once() -> None:
    flaky = Flaky(1, KeyError("bug"))
    with pytest.raises(KeyError):
        asyncio.run(FAST.retry(flaky, ConnectionError, "test"))
    assert flaky.calls == 1


def test_stopping_gives_up_between_tries() -> None:
    flaky = Flaky(100)
    with pytest.raises(Stopped):
        asyncio.run(FAST.retry(flaky, ConnectionError, "test", lambda: flaky.calls >= 2))
    assert flaky.calls == 2

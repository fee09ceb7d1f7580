"""A circuit breaker per model, so a dead model server costs one timeout, not one per batch.

closed ──(failure_threshold consecutive failures)──► open ──(reset_after_s)──► half-open
  ▲                                                   ▲                          │
  └──────────────── trial call succeeds ──────────────┴──── trial call fails ────┘
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum


class BreakerState(IntEnum):
    """Numeric so it can be exported as a Prometheus gauge (0 = closed)."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Counts consecutive failures; while open, ``allow()`` is False until the reset time.

    >>> clock = [0.0]
    >>> b = CircuitBreaker(failure_threshold=2, reset_after_s=5, clock=lambda: clock[0])
    >>> b.record_failure(); b.record_failure(); b.state.name
    'OPEN'
    >>> b.allow()
    False
    >>> clock[0] = 6.0; b.allow(), b.state.name
    (True, 'HALF_OPEN')
    >>> b.record_success(); b.state.name
    'CLOSED'
    """

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_after_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if reset_after_s <= 0:
            raise ValueError("reset_after_s must be > 0")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """May a call go through now? Moves open → half-open once the reset time passed."""
        if self._state is BreakerState.OPEN:
            if self._clock() - self._opened_at < self.reset_after_s:
                return False
            self._state = BreakerState.HALF_OPEN
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._state = BreakerState.CLOSED

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()

"""The one way StreamScore retries: exponential backoff, bounded by attempts or by a stop flag.

Every retry loop in the worker (scoring a held batch, publishing, applying feature updates,
reading the feature store, waiting for Triton at start) is :meth:`Backoff.retry`; they
differ only in what they retry on, how long they wait, and when they give up.

>>> list(Backoff(initial_s=0.1, max_s=0.5).delays(6))
[0.1, 0.2, 0.4, 0.5, 0.5, 0.5]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from infra.errors import StreamScoreError

T = TypeVar("T")
log = logging.getLogger(__name__)


class Stopped(StreamScoreError):
    """The process is stopping: the retried work was given up, and must not be acknowledged."""


def never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits ``initial_s``, then twice as long each time, never more than ``max_s``.

    ``attempts`` bounds the calls (the last error is raised when they run out); ``None``
    retries until the call succeeds or ``should_stop()`` turns true.
    """

    initial_s: float = 0.1
    max_s: float = 2.0
    attempts: int | None = None

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError("a backoff needs 0 < initial_s <= max_s")
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("attempts must be at least 1 (or None: until stopped)")

    def delays(self, limit: int | None = None) -> Iterator[float]:
        """The waits between calls, in order (``attempts - 1`` of them, or endless)."""

        def endless() -> Iterator[float]:
            delay = self.initial_s
            while True:
                yield delay
                delay = min(delay * 2, self.max_s)

        count = None if self.attempts is None else self.attempts - 1
        if limit is not None:
            count = limit if count is None else min(count, limit)
        return islice(endless(), count)

    async def retry(
        self,
        call: Callable[[], Awaitable[T]],
        retry_on: type[BaseException] | tuple[type[BaseException], ...],
        what: str,
        should_stop: Callable[[], bool] = never,
        log_level: int = logging.WARNING,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> T:
        """``await call()`` until it returns. An error of ``retry_on`` is logged (with
        ``what`` was tried), passed to ``on_retry`` (a metric), and retried after the next
        delay; any other error propagates. Raises :class:`Stopped` once ``should_stop()`` is
        true before a call or a wait."""
        delays = self.delays()
        while True:
            if should_stop():
                raise Stopped(f"stopped while retrying: {what}")
            try:
                return await call()
            except retry_on as exc:
                delay = next(delays, None)
                if delay is None:
                    raise
                log.log(log_level, "%s failed (%s); retry in %.2fs", what, exc, delay)
                if on_retry is not None:
                    on_retry(exc)
                if should_stop():
                    raise Stopped(f"stopped while retrying: {what}") from exc
                await asyncio.sleep(delay)

"""Publishes the drift window summaries a worker counted (drift/summary.py) every ``flush_s``.

Summaries are deltas: what was counted since the previous flush. A publish that fails is
retried with the same records, whose ``(producer, seq)`` lets the drift agent apply each one
once. Publishing never holds scoring: it runs beside it, and the counting itself happens in
the pipeline. Summaries are published independently of the events' offsets, so events
scored again after a crash (at-least-once) are counted again: a replayed batch tilts its
window by at most its own size, and a drift statistic is a share, not a total.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from drift.summary import WindowAccumulator
from schemas.codec import AvroCodec
from streams.backoff import Backoff, Stopped, never
from streams.worker.messages import OutMessage
from streams.worker.metrics import Metrics
from streams.worker.sink import Sink

log = logging.getLogger(__name__)


class SummaryPublisher:
    def __init__(
        self,
        accumulator: WindowAccumulator,
        codec: AvroCodec,
        sink: Sink,
        topic: str,
        metrics: Metrics,
        backoff: Backoff,
        should_stop: Callable[[], bool] = never,
    ) -> None:
        self.accumulator = accumulator
        self.codec = codec
        self.sink = sink
        self.topic = topic
        self.metrics = metrics
        self.backoff = backoff
        self.should_stop = should_stop
        self._lock = asyncio.Lock()  # one flush at a time keeps each producer's seqs in order

    async def flush(self) -> int:
        """Publish what was counted since the last flush; returns the summaries sent."""
        async with self._lock:
            records = self.accumulator.drain()
            if not records:
                return 0
            out: list[OutMessage] = [
                (self.topic, f"{r['model_name']}:{r['model_version']}".encode(),
                 self.codec.encode(r), None)
                for r in records
            ]  # fmt: skip
            try:
                await self.backoff.retry(
                    lambda: self.sink.publish(out),
                    Exception,
                    "publishing drift summaries",
                    self.should_stop,
                    on_retry=self.metrics.retry_counter("drift-summaries"),
                )
            except Stopped:
                log.warning("stopping: %d drift summaries not published", len(out))
                return 0
            self.metrics.drift_summaries.inc(len(out))
            return len(out)

    async def run(self, every_s: float) -> None:
        """Flush every ``every_s`` until cancelled; a failed flush never ends the loop."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("drift summaries not published this time")

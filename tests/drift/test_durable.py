"""drift/durable.py: an agent's acks wait for every changelog write's acknowledgement, and
for a producer buffer that Faust's own flush leaves non-empty. Fakes only; no service."""

from __future__ import annotations

import asyncio
from typing import Any

from drift.durable import Changelogs


class Table:
    def __init__(self) -> None:
        self.sent: list[asyncio.Future[Any]] = []

    def send_changelog(self, *args: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append(future)
        return future

    def write(self, key: str) -> None:  # what Table._send_changelog does on a write
        self.send_changelog(None, key, 1)


class Buffer:
    """Faust's buffer: its flush gives up with records still queued."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.flushes = 0

    async def flush(self) -> None:
        self.flushes += 1
        self.size = max(0, self.size - 1)  # one record sent per 0.1 s wait, then it gives up


class Producer:
    def __init__(self, queued: int) -> None:
        self.buffer = Buffer(queued)
        self.flushed = False

    async def flush(self) -> None:
        assert self.buffer.size == 0, "the client flushed before the buffer was drained"
        self.flushed = True


def test_durable_drains_the_buffer_and_waits_for_every_changelog_ack() -> None:
    async def main() -> None:
        changelogs, table = Changelogs(), Table()
        assert changelogs.watch(table) is table
        table.write("a")
        table.write("b")
        producer = Producer(queued=3)
        waiting = asyncio.ensure_future(changelogs.durable(producer))
        await asyncio.sleep(0.01)
        assert producer.buffer.flushes == 3 and producer.flushed
        assert not waiting.done()  # the broker has not acknowledged the changelog yet
        table.sent[0].set_result("ack")
        await asyncio.sleep(0.01)
        assert not waiting.done()
        table.sent[1].set_result("ack")
        await asyncio.wait_for(waiting, 1)
        # Acknowledged writes are forgotten: the next call waits for nothing old.
        await asyncio.wait_for(changelogs.durable(Producer(queued=0)), 1)

    asyncio.run(main())


def test_a_failed_changelog_write_fails_the_ack() -> None:
    async def main() -> None:
        changelogs, table = Changelogs(), Table()
        changelogs.watch(table)
        table.write("a")
        table.sent[0].set_exception(RuntimeError("not delivered"))
        try:
            await changelogs.durable(Producer(queued=0))
        except RuntimeError as exc:
            assert "not delivered" in str(exc)
        else:
            raise AssertionError("a lost changelog write must not let the agent ack")

    asyncio.run(main())

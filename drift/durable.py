"""Make a Faust agent's writes durable before it acks what it read.

The agents ack their input only once its effects are sent: table changelogs, alerts and
requests. ``app.producer.flush()`` alone does not promise that:

- Faust's buffer flush gives up after 0.1 s without a send (``ProducerBuffer.flush_atmost``)
  and returns with records still queued;
- a record taken off the buffer and still on its way into the Kafka client (waiting for a
  partition's metadata, as the first write to a changelog does) is in neither the buffer nor
  the client's batches, so neither flush waits for it.

The offsets could then be committed ahead of a changelog record, and a SIGKILL at that moment
lost a table update: the fault suite's row 11 (tests/reliability/test_drift_agent_kill.py)
lost one summary of ten, now and then, on a loaded machine. So every table's changelog sends
are tracked here, the buffer is drained until empty, and each tracked send is awaited: its
future resolves once the broker has acknowledged the record.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

LIMIT_S = 60.0  # a producer that delivers nothing for this long has failed: raise


class Changelogs:
    """The changelog sends of the tables it watches, since the last :meth:`durable`."""

    def __init__(self) -> None:
        self._pending: list[asyncio.Future[Any]] = []

    def watch(self, table: Any) -> Any:
        send = table.send_changelog

        def tracked(*args: Any, **kwargs: Any) -> Any:
            future = send(*args, **kwargs)
            self._pending.append(future)
            return future

        table.send_changelog = tracked  # Table._send_changelog calls it by attribute
        return table

    async def durable(self, producer: Any) -> None:
        """Every record handed to ``producer`` so far, and every changelog write, is
        acknowledged by the broker."""
        buffer = producer.buffer
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LIMIT_S
        while buffer.size:
            if loop.time() > deadline:
                raise RuntimeError(f"{buffer.size} record(s) unsent after {LIMIT_S:.0f} s")
            await buffer.flush()
        await producer.flush()
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.wait_for(asyncio.gather(*pending), LIMIT_S)


_BY_APP: weakref.WeakKeyDictionary[Any, Changelogs] = weakref.WeakKeyDictionary()


def changelogs_of(app: Any) -> Changelogs:
    """The one tracker of ``app``'s tables."""
    tracker = _BY_APP.get(app)
    if tracker is None:
        tracker = _BY_APP[app] = Changelogs()
    return tracker

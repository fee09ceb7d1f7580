"""Exactly-once for the librdkafka engine: a batch's outputs and its input offsets commit in
ONE Kafka transaction, or neither does.

    begin ─► produce predictions, shadow outputs, dead letters ─► send offsets ─► commit
                      any failure on the way ─► abort; the engine rewinds to the committed
                      offsets and scores the batch again (nothing of the aborted try is read
                      by a read_committed consumer)

The transactional id is stable per instance (settings.transaction_id), so a worker restarted
after a crash aborts the transaction its dead self left open at once, instead of stalling
read_committed readers until ``transaction.timeout.ms``. Offsets go in with the consumer's
group metadata (KIP-447): after a rebalance a stale member's commit is refused, so a zombie
cannot commit work its partitions' new owner redoes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from streams.worker.errors import FatalWorkerError
from streams.worker.messages import OutMessage
from streams.worker.sink import OUTPUT_PRODUCER

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0


class Fenced(FatalWorkerError):
    """Another instance took over this transactional id, or the producer hit a fatal error."""


class Transactions:
    """One transactional producer; :meth:`publish` opens a transaction if none is open."""

    def __init__(self, conf: dict[str, Any], transactional_id: str) -> None:
        self.transactional_id = transactional_id
        self.producer = Producer(
            {
                **conf,
                **OUTPUT_PRODUCER,
                "transactional.id": transactional_id,
                # A transaction holds only one batch: a dead worker's open one is given up
                # on soon even if no instance with its id comes back.
                "transaction.timeout.ms": 30_000,
            }
        )
        self._open = False

    def start(self) -> None:
        """Register the id with the coordinator, aborting what a previous instance left open
        (blocks: call it off the event loop)."""
        self._guard(lambda: self.producer.init_transactions(TIMEOUT_S))

    def _begin(self) -> None:
        if not self._open:
            self._guard(self.producer.begin_transaction)
            self._open = True

    async def publish(self, messages: Sequence[OutMessage]) -> None:
        """Produce into the open transaction; durable only once :meth:`commit` returns."""
        self._begin()
        produce = self.producer.produce
        for topic, key, value, headers in messages:
            while True:
                try:
                    produce(topic, value, key, headers=headers)  # type: ignore[arg-type]
                    break
                except BufferError:  # local queue full: serve it, then go on
                    self.producer.poll(0.01)

    def commit(self, offsets: list[TopicPartition], consumer: Consumer) -> None:
        """Add the input offsets and commit (blocks). On failure the transaction is aborted
        and the error raised: the caller rewinds and scores the batch again."""
        self._begin()
        try:
            self.producer.send_offsets_to_transaction(
                offsets, consumer.consumer_group_metadata(), TIMEOUT_S
            )
            self._commit()
        except KafkaException:
            self.abort()
            raise
        finally:
            self._open = False

    def _commit(self) -> None:
        for _ in range(3):
            try:
                self.producer.commit_transaction(TIMEOUT_S)
                return
            except KafkaException as exc:
                error = exc.args[0]
                if error.fatal():
                    raise Fenced(self._fenced_line(error)) from None
                if not error.retriable():
                    raise
                log.info("commit of a transaction retried: %s", error)
        self.producer.commit_transaction(TIMEOUT_S)

    def abort(self) -> None:
        """Abort the open transaction, if any (blocks)."""
        if self._open:
            self._guard(lambda: self.producer.abort_transaction(TIMEOUT_S))
            self._open = False

    def close(self) -> None:
        with contextlib.suppress(Fenced):
            self.abort()
        self.producer.flush(10)

    def _guard(self, call: Any) -> None:
        try:
            call()
        except KafkaException as exc:
            error = exc.args[0]
            if error.fatal():
                raise Fenced(self._fenced_line(error)) from None
            raise

    def _fenced_line(self, error: Any) -> str:
        return (
            f"transactional id {self.transactional_id!r} can no longer commit "
            f"({error.name()}): another instance runs with it, or the broker fenced this one; "
            "stopping (set STREAMSCORE_TRANSACTIONAL_ID to a unique value per instance)"
        )

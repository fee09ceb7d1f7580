"""The fault suite's verifier: reads every output topic to its end and accounts for every input.

Each input (partition, offset) must end in exactly one of: a prediction (by event_id) or a
dead-letter record (by the source partition and offset its headers name). What does not is
lost; what ends there more than once is a duplicate. :class:`Progress` watches a consumer
group's committed offsets meanwhile, for partitions that stop moving while they have work.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streams.topics import TopicNames
from tests.support.kafka import PREDICTION_CODEC
from tests.support.load import Input

T = TypeVar("T")


@dataclass
class Outcome:
    inputs: int
    lost: list[tuple[int, int]] = field(default_factory=list)
    duplicates: int = 0
    both: int = 0  # inputs with a prediction AND a dead letter
    dlq: Counter[str] = field(default_factory=Counter)
    wrong_dlq: int = 0  # good events dead-lettered, or bad ones with another cause
    # by event_id; left out of repr: a failed assertion prints the counts, not 10,000 records
    predictions: dict[str, dict] = field(default_factory=dict, repr=False)  # type: ignore[type-arg]

    def __str__(self) -> str:
        causes = ", ".join(f"{k}={v}" for k, v in sorted(self.dlq.items())) or "none"
        return (
            f"{self.inputs} inputs: {len(self.lost)} lost, {self.duplicates} duplicates, "
            f"{self.both} in both, DLQ {causes}, {self.wrong_dlq} with the wrong cause"
        )


def read_all(
    bootstrap: str, topic: str, *, read_committed: bool = False, idle_s: float = 3.0
) -> list[tuple[bytes, dict[str, bytes]]]:
    """Every value of ``topic`` with its headers, from the start to the current end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"verifier-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if read_committed else "read_uncommitted",
            "enable.partition.eof": True,
        }
    )
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    at_end: set[int] = set()
    out: list[tuple[bytes, dict[str, bytes]]] = []
    last = time.monotonic()
    try:
        while len(at_end) < len(meta.partitions) and time.monotonic() - last < idle_s:
            for msg in consumer.consume(1000, 0.5):
                last = time.monotonic()
                if msg.error() is not None:
                    at_end.add(msg.partition() or 0)
                    continue
                at_end.discard(msg.partition() or 0)
                out.append((msg.value() or b"", dict(msg.headers() or [])))
    finally:
        consumer.close()
    return out


def verify(
    bootstrap: str,
    topics: TopicNames,
    inputs: dict[tuple[int, int], Input],
    *,
    read_committed: bool = False,
) -> Outcome:
    outcome = Outcome(len(inputs))
    predicted: Counter[str] = Counter()
    for value, _ in read_all(bootstrap, topics.predictions, read_committed=read_committed):
        record = PREDICTION_CODEC.decode(value)
        predicted[record["event_id"]] += 1
        outcome.predictions[record["event_id"]] = record
    dead: Counter[tuple[int, int]] = Counter()
    for _, headers in read_all(bootstrap, topics.dlq, read_committed=read_committed):
        where = (int(headers["source.partition"]), int(headers["source.offset"]))
        dead[where] += 1
        reason = headers["error.reason"].decode()
        outcome.dlq[reason] += 1
        expected = inputs.get(where)
        if expected is None or expected.bad != reason:
            outcome.wrong_dlq += 1
    for where, expected in inputs.items():
        scored = predicted.get(expected.event_id, 0) if expected.event_id else 0
        letters = dead.get(where, 0)
        if scored + letters == 0:
            outcome.lost.append(where)
        outcome.duplicates += max(scored - 1, 0) + max(letters - 1, 0)
        outcome.both += scored > 0 and letters > 0
    return outcome


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ends"})
    try:
        meta = _retried(lambda: consumer.list_topics(topic, timeout=10)).topics[topic]
        return {
            p: _retried(lambda p=p: consumer.get_watermark_offsets(TopicPartition(topic, p), 10))[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    wanted = [TopicPartition(topic, p) for p in range(partitions)]
    try:
        tps = _retried(lambda: consumer.committed(wanted, 10))
    finally:
        consumer.close()
    return {tp.partition: max(tp.offset, 0) for tp in tps}


def _retried(call: Callable[[], T], tries: int = 10) -> T:
    """``call()``, asked again while the broker settles: a new topic's leaders, or a group
    coordinator still loading after a broker restart (NOT_COORDINATOR)."""
    for _ in range(tries - 1):
        try:
            return call()
        except KafkaException:
            time.sleep(1.0)
    return call()


class Progress:
    """Samples a group's committed offsets against the topic's ends every ``every_s``; the
    longest time any partition had work (lag > 0) and no commit moved it is ``longest_stall_s``."""

    def __init__(self, bootstrap: str, group: str, topic: str, every_s: float = 0.5) -> None:
        self.bootstrap, self.group, self.topic, self.every_s = bootstrap, group, topic, every_s
        self.longest_stall_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        since: dict[int, float] = {}  # partition -> when its committed offset last moved
        last: dict[int, int] = {}
        while not self._stop.wait(self.every_s):
            try:
                ends = end_offsets(self.bootstrap, self.topic)
                done = committed_offsets(self.bootstrap, self.group, self.topic, len(ends))
            except Exception:  # the broker may be the fault being injected
                continue
            now = time.monotonic()
            for p, end in ends.items():
                if done[p] != last.get(p) or done[p] >= end:
                    since[p], last[p] = now, done[p]
                self.longest_stall_s = max(self.longest_stall_s, now - since[p])

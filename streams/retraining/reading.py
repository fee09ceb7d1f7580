"""Reading a topic as it is now: from an offset (or a time) to the end offsets of the moment,
or exactly the offsets a model card recorded (:func:`read_spans`).

The retraining worker reads its training data (dataset.py) and the results already published
(worker.py) this way: a throw-away consumer that assigns partitions and never commits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from infra.errors import StreamScoreError
from streams.backoff import Backoff
from streams.client.admin import topic_partitions
from streams.client.errors import KAFKA_LOG
from streams.client.settings import ClientSettings

Marks = dict[int, tuple[int, int]]  # partition -> (low, high) watermark offsets
Spans = dict[int, tuple[int, int]]  # partition -> [start, end) offsets to read


class DatasetError(StreamScoreError):
    """The topics could not be read (Kafka unreachable, no progress within the timeout)."""


def reader(settings: ClientSettings) -> Consumer:
    """A consumer for :func:`read_range`: a throw-away group that never commits."""
    conf = settings.kafka.librdkafka(
        **{
            "group.id": f"streamscore-retrainer-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
            "logger": KAFKA_LOG,
        }
    )
    return Consumer(conf)


def read_range(
    consumer: Consumer,
    settings: ClientSettings,
    topic: str,
    start_ms: int | None,
    timeout_s: float,
) -> Iterator[Message]:
    """Every message of ``topic`` from ``start_ms`` (Kafka timestamp; None: the start)
    up to the end offsets as they are when called; :class:`DatasetError` when Kafka cannot
    be read or gives nothing for ``timeout_s``."""
    return read_spans(
        consumer, topic, plan(consumer, settings, topic, start_ms, timeout_s), timeout_s
    )


def plan(
    consumer: Consumer,
    settings: ClientSettings,
    topic: str,
    start_ms: int | None,
    timeout_s: float,
) -> Spans:
    """Each partition's [start, end) to read: from ``start_ms`` (None: the low watermark) to
    the end offset now. A partition with nothing stamped that late gets start == end."""
    marks, starts = _offsets(consumer, settings, topic, start_ms, timeout_s)
    spans: Spans = {}
    for partition, (_, high) in marks.items():
        start = starts[partition]
        spans[partition] = (start, high) if 0 <= start < high else (high, high)
    return spans


def read_spans(consumer: Consumer, topic: str, spans: Spans, timeout_s: float) -> Iterator[Message]:
    """Every message of ``topic`` in the offsets ``spans`` gives per partition: what
    :func:`plan` chose, or a model card's range read again (streams/retraining/reproduce.py)."""
    pending = {p: end for p, (start, end) in spans.items() if start < end}
    consumer.assign([TopicPartition(topic, p, spans[p][0]) for p in pending])
    progress = time.monotonic()
    while pending:
        batch = consumer.consume(1000, 0.2)
        if batch:
            progress = time.monotonic()
        elif time.monotonic() - progress > timeout_s:
            raise DatasetError(f"no progress reading {topic} for {timeout_s:.0f} s")
        for msg in batch:
            partition = msg.partition() or 0
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    pending.pop(partition, None)  # compaction can hide the last offsets
                    continue
                raise DatasetError(f"reading {topic}: {err.str()}")
            end = pending.get(partition)
            offset = msg.offset() or 0
            if end is None or offset >= end:
                continue
            if offset >= end - 1:
                pending.pop(partition)
            yield msg
    consumer.unassign()


def _offsets(
    consumer: Consumer,
    settings: ClientSettings,
    topic: str,
    start_ms: int | None,
    timeout_s: float,
) -> tuple[Marks, dict[int, int]]:
    """Each partition's watermarks and the offset to start from (-1: nothing to read).
    Retried until ``timeout_s``: a partition may have no leader for a while (a topic just
    created, a broker restarting)."""
    deadline = time.monotonic() + timeout_s
    for delay in Backoff(initial_s=0.1, max_s=1.0).delays():
        try:
            parts = topic_partitions(consumer, settings, topic, timeout_s)
            tps = [TopicPartition(topic, p) for p in parts]
            marks = {tp.partition: consumer.get_watermark_offsets(tp, timeout_s) for tp in tps}
            if start_ms is None:
                return marks, {p: low for p, (low, _) in marks.items()}
            wanted = [TopicPartition(topic, p, start_ms) for p in parts]
            found = consumer.offsets_for_times(wanted, timeout=timeout_s)
            return marks, {tp.partition: tp.offset for tp in found}  # -1: none stamped as late
        except Exception as exc:  # KafkaException, and ClientError from topic_partitions
            if time.monotonic() + delay > deadline:
                raise DatasetError(f"cannot read {topic}: {exc}") from exc
            time.sleep(delay)
    raise AssertionError("unreachable: the delays never end")  # pragma: no cover

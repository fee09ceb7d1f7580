"""A range of event time read back from a topic: seek by timestamp, stop by event time.

A record's Kafka timestamp is when it was produced, never before its event happened (an
output is written after its event was scored; a client sends an event after it happened).
So the broker's time index gives a safe start without scanning from the beginning:
``offsets_for_times(from)`` is each partition's first record produced at or after ``from``,
and no record of an event at or after ``from`` comes before it. Where to stop cannot come
from produce times (a replay writes last week's events today), so each partition is read
until the event time of its records passes the range's end by ``lateness`` (the caller
reports decoded event times with :meth:`RangeReader.advance`), or until the end it had when
reading began. Records read outside the range are filtered by the caller on their own
``event_time``; one sent more than ``lateness`` after later events of its partition is
missed.

:class:`RangeReader` hands out chunks of raw values with their partitions (and, when asked,
keys and offsets), and a per-topic event-time clock (the slowest unfinished partition's
latest record) that the join uses to know when a record's partner can no longer come.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streams.client import ClientSettings
from streams.client.admin import topic_partitions
from streams.client.errors import KAFKA_LOG, ClientError
from streams.report.errors import ReportError

_NO_RECORD = -1  # what offsets_for_times answers for a partition with nothing that late


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Event time, epoch milliseconds, ``start`` included, ``end`` excluded."""

    start_ms: int
    end_ms: int

    @classmethod
    def parse(cls, since: str | None, start: str | None, end: str | None) -> TimeRange:
        """``--since DURATION`` (e.g. 10m, 2h, 90s, 1d) or ``--from T [--to T]`` (ISO 8601,
        UTC unless an offset is given); ``--to`` defaults to now."""
        now = datetime.now(UTC)
        if since is not None:
            if start is not None:
                raise ReportError("give --since or --from, not both")
            return cls.of(now - parse_duration(since), (end and parse_time(end)) or now)
        if start is None:
            raise ReportError("give a range: --since DURATION or --from TIME [--to TIME]")
        return cls.of(parse_time(start), parse_time(end) if end else now)

    @classmethod
    def of(cls, start: datetime, end: datetime) -> TimeRange:
        if end <= start:
            raise ReportError(f"the range is empty: {start.isoformat()} is not before {end}")
        return cls(int(start.timestamp() * 1000), int(end.timestamp() * 1000))

    def text(self) -> tuple[str, str]:
        return iso(self.start_ms), iso(self.end_ms)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def parse_duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    try:
        value = float(number)
    except ValueError:
        value = -1
    if unit not in units or value <= 0:
        raise ReportError(f"not a duration: {text!r} (expected e.g. 90s, 10m, 2h, 1d)")
    return timedelta(seconds=value * units[unit])


def parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(
            f"not a time: {text!r} (expected ISO 8601, e.g. 2026-11-28T10:00)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(slots=True)
class Chunk:
    values: list[bytes]
    partitions: np.ndarray  # int16, one per value
    keys: list[bytes | None] | None = None  # with RangeReader(..., keys=True)
    offsets: list[int] | None = None


class RangeReader:
    """Reads one topic's offsets for a range; ``read()`` returns the next chunk (or None)."""

    def __init__(
        self,
        config: ClientSettings,
        topic: str,
        window: TimeRange,
        lateness_ms: int,
        chunk: int = 10_000,
        keys: bool = False,
    ) -> None:
        self.topic = topic
        self.with_keys = keys
        self.chunk = chunk
        self.consumer = Consumer(
            config.kafka.librdkafka(
                **{
                    "group.id": "streamscore-report",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "logger": KAFKA_LOG,
                    # big fetches, a bounded prefetch: the report's memory must stay bounded
                    "fetch.max.bytes": 32 << 20,
                    "max.partition.fetch.bytes": 8 << 20,
                    "queued.max.messages.kbytes": 32 << 10,
                }
            )
        )
        self.stop_ms = window.end_ms + lateness_ms
        try:
            self.ends = self._offsets(config, window)
        except BaseException:
            self.consumer.close()
            raise
        self.total = sum(end - start for start, end in self.ends.values())
        self.read_count = 0
        self.clocks = {p: -(2**62) for p, (s, e) in self.ends.items() if e > s}
        self.position = {p: s for p, (s, _) in self.ends.items()}
        todo = [TopicPartition(topic, p, s) for p, (s, e) in self.ends.items() if e > s]
        if todo:
            self.consumer.assign(todo)

    def _offsets(self, config: ClientSettings, window: TimeRange) -> dict[int, tuple[int, int]]:
        parts = topic_partitions(self.consumer, config, self.topic, 10.0)
        try:
            starts = self.consumer.offsets_for_times(
                [TopicPartition(self.topic, p, window.start_ms) for p in parts], timeout=10
            )
            highs = [self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), 10)[1]
                     for p in parts]  # fmt: skip
        except KafkaException as exc:
            raise ClientError(f"finding the range in {self.topic}: {exc}") from exc
        out = {}
        for p, start, high in zip(parts, starts, highs, strict=True):
            out[p] = (high if start.offset == _NO_RECORD else start.offset, high)
        return out

    @property
    def done(self) -> bool:
        return not self.clocks

    def clock(self) -> int:
        """Event time every unfinished partition has reached: no record still to come from
        this topic is much older (out-of-order records aside)."""
        return min(self.clocks.values()) if self.clocks else 2**62

    def read(self) -> Chunk | None:
        """The next chunk of values in range offsets; None when every partition is done."""
        while self.clocks:
            messages = self.consumer.consume(self.chunk, timeout=1.0)
            values: list[bytes] = []
            partitions: list[int] = []
            keys: list[bytes | None] = []
            offsets: list[int] = []
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise ClientError(f"reading {self.topic}: {err.str()}")
                p = msg.partition() or 0
                offset = msg.offset() or 0
                if p not in self.clocks or offset >= self.ends[p][1]:
                    continue
                values.append(msg.value() or b"")
                partitions.append(p)
                if self.with_keys:
                    keys.append(msg.key())
                    offsets.append(offset)
                self.position[p] = offset + 1
                if offset + 1 >= self.ends[p][1]:
                    self._finish(p)
            if values:
                self.read_count += len(values)
                parts = np.asarray(partitions, dtype=np.int16)
                if self.with_keys:
                    return Chunk(values, parts, keys, offsets)
                return Chunk(values, parts)
        return None

    def advance(self, partitions: np.ndarray, event_times: np.ndarray) -> None:
        """Move the clocks with the event times a chunk's decoded records carried."""
        if not len(partitions):
            return
        order = np.lexsort((event_times, partitions))
        last = np.r_[partitions[order][1:] != partitions[order][:-1], True]
        for p, t in zip(partitions[order][last].tolist(), event_times[order][last].tolist(),
                        strict=True):  # fmt: skip
            if p in self.clocks:
                self.clocks[p] = max(self.clocks[p], t)
                if self.clocks[p] >= self.stop_ms:
                    self._finish(p)  # past the range and its lateness: this partition is done

    def _finish(self, p: int) -> None:
        if self.clocks.pop(p, None) is None:
            return
        self.consumer.incremental_unassign([TopicPartition(self.topic, p)])

    def close(self) -> None:
        self.consumer.close()

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
    """``2026-11-28T03:36:43Z``, or ``…43.255Z`` when the time has milliseconds."""
    spec = "milliseconds" if ms % 1000 else "seconds"
    when = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec=spec)
    return when.replace("+00:00", "Z")


def parse_duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    try:
        value = float(number) * units.get(unit, 0)
    except ValueError:
        value = -1
    if not 0 < value <= 100 * 365 * 86400:  # NaN and inf fail this too
        raise ReportError(f"not a duration: {text!r} (expected e.g. 90s, 10m, 2h, 1d)")
    return timedelta(seconds=value)


def parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(
            f"not a time: {text!r} (expected ISO 8601, e.g. 2026-11-28T10:00)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def last_of(partitions: np.ndarray, values: np.ndarray) -> tuple[list[int], list[int]]:
    """Each partition's largest value (offset, event time) in a chunk."""
    order = np.lexsort((values, partitions))
    last = np.r_[partitions[order][1:] != partitions[order][:-1], True]
    return partitions[order][last].tolist(), values[order][last].tolist()


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
                    # A small prefetch refilled at once: librdkafka's defaults hold 100,000
                    # messages a partition and wait a second before refilling a full queue;
                    # these read 3x less memory and twice as fast here (bench/report_scale.py).
                    "queued.min.messages": 5000,
                    "queued.max.messages.kbytes": 4096,
                    "fetch.max.bytes": 4 << 20,
                    "max.partition.fetch.bytes": 1 << 20,
                    "fetch.queue.backoff.ms": 5,
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
        self._end_offsets = np.zeros(max(self.ends, default=0) + 1, dtype=np.int64)
        for p, (_, end) in self.ends.items():
            self._end_offsets[p] = end
        self.read_count = 0
        self.clocks = {p: -(2**62) for p, (s, e) in self.ends.items() if e > s}
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
        """The next chunk of values in range offsets; None when every partition is done.

        Per message only C-level method calls run (one comprehension each); the checks
        against each partition's end are numpy over the chunk."""
        while self.clocks:
            messages = self.consumer.consume(self.chunk, timeout=1.0)
            if not messages:
                continue
            errors = [m.error() for m in messages]
            if any(errors):
                self._raise_or_skip(errors)
                messages = [m for m, e in zip(messages, errors, strict=True) if e is None]
            partitions = np.fromiter((m.partition() for m in messages), np.int16, len(messages))
            offsets = np.fromiter((m.offset() for m in messages), np.int64, len(messages))
            keep = offsets < self._end_offsets[partitions]
            for p in np.unique(partitions).tolist():
                if p not in self.clocks:
                    keep &= partitions != p  # finished by event time: the rest is prefetch
            if not keep.all():
                messages = [m for m, k in zip(messages, keep.tolist(), strict=True) if k]
                partitions, offsets = partitions[keep], offsets[keep]
            if not messages:
                continue
            # a partition whose last offset of the range is in this chunk is done
            for p in np.unique(partitions[offsets + 1 >= self._end_offsets[partitions]]).tolist():
                self._finish(p)
            values = [m.value() or b"" for m in messages]
            self.read_count += len(values)
            if self.with_keys:
                return Chunk(values, partitions, [m.key() for m in messages], offsets.tolist())
            return Chunk(values, partitions)
        return None

    def _raise_or_skip(self, errors: list[KafkaError | None]) -> None:
        for err in errors:
            if err is not None and err.code() != KafkaError._PARTITION_EOF:
                raise ClientError(f"reading {self.topic}: {err.str()}")

    def advance(self, partitions: np.ndarray, event_times: np.ndarray) -> None:
        """Move the clocks with the event times a chunk's decoded records carried."""
        if not len(partitions):
            return
        for p, t in zip(*last_of(partitions, event_times), strict=True):
            if p in self.clocks:
                self.clocks[p] = max(self.clocks[p], t)
                if self.clocks[p] >= self.stop_ms:
                    self._finish(p)  # past the range and its lateness: this partition is done

    def _finish(self, p: int) -> None:
        if self.clocks.pop(p, None) is not None:
            self.consumer.incremental_unassign([TopicPartition(self.topic, p)])

    def close(self) -> None:
        self.consumer.close()

"""What the demo's topics say, read as it happens: every prediction's latency, and each drift
alert, retraining request and retraining result.

Latency is event-to-prediction: the prediction record's Kafka timestamp (stamped by the
worker's producer as it publishes) minus the event's ``event_time`` (stamped by the
simulator as it sends, at ``start + i / rate``, so a producer that falls behind shows as
latency too). Both clocks are this machine's.

One consumer, assigned (no group) at the topics' current ends when the demo starts, so that
earlier runs' records never show; a thread of its own keeps up with the predictions.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from confluent_kafka import Consumer, TopicPartition

from schemas.errors import DecodeError
from streams.client import ClientSettings
from streams.client.errors import KAFKA_LOG


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float
    n: int


def latency_of(samples: list[np.ndarray]) -> Latency | None:
    if not samples:
        return None
    values = np.concatenate(samples)
    if len(values) == 0:
        return None
    p50, p99 = np.percentile(values, [50, 99])
    return Latency(float(p50), float(p99), len(values))


class LatencyBook:
    """Latencies by the wall-clock second their prediction was read in, for the figures the
    dashboard shows: now (the last seconds), over the run, and the worst span of the run."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_second: dict[int, list[float]] = {}
        self._finished: dict[tuple[int, int], float] = {}  # (first second, span) → p99

    def add(self, latency_ms: float) -> None:
        second = int(self._clock())
        with self._lock:
            self._by_second.setdefault(second, []).append(latency_ms)

    def latency(self, last_s: float | None = None, since: float | None = None) -> Latency | None:
        """Over the last ``last_s`` seconds, or since the wall time ``since`` (both None: all
        of it)."""
        now = self._clock()
        low = now - last_s if last_s is not None else (since if since is not None else 0.0)
        with self._lock:
            picked = [np.asarray(v) for s, v in self._by_second.items() if s >= int(low)]
        return latency_of(picked)

    def per_second(self, since: float) -> list[tuple[int, int, float, float]]:
        """(second from ``since``, predictions, p50, p99) for every second read."""
        with self._lock:
            seconds = sorted(s for s in self._by_second if s >= int(since))
            arrays = {s: np.asarray(self._by_second[s]) for s in seconds}
        out = []
        for s in seconds:
            p50, p99 = np.percentile(arrays[s], [50, 99])
            out.append((s - int(since), len(arrays[s]), float(p50), float(p99)))
        return out

    def worst_p99(self, span_s: int, since: float) -> float | None:
        """The highest p99 over any ``span_s`` whole seconds since ``since``, among spans of
        at least 100 predictions (the run's "throughout" figure). A span that has ended is
        computed once."""
        now = int(self._clock())
        with self._lock:
            seconds = sorted(s for s in self._by_second if s >= int(since))
            arrays = {s: np.asarray(self._by_second[s]) for s in seconds}
        worst = None
        for start in seconds:
            p99 = self._finished.get((start, span_s))
            if p99 is None:
                window = [arrays[s] for s in range(start, start + span_s) if s in arrays]
                lat = latency_of(window)
                p99 = lat.p99_ms if lat is not None and lat.n >= 100 else math.nan
                if start + span_s <= now:
                    self._finished[(start, span_s)] = p99
            if not math.isnan(p99) and (worst is None or p99 > worst):
                worst = p99
        return worst


class TopicTail(threading.Thread):
    """Reads ``schemas`` (topic → schema name) from their ends until :meth:`close`, handing
    each record that decodes to :meth:`take` (under ``_lock``)."""

    def __init__(
        self, client: ClientSettings, name: str, schemas: dict[str, str], **conf: Any
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.topics = client.topics
        self.consumer = Consumer(
            client.kafka.librdkafka(
                **{"group.id": f"streamscore-{name}", "enable.auto.commit": False,
                   "logger": KAFKA_LOG, **conf}
            )
        )  # fmt: skip
        assignment = []
        for topic in schemas:
            meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), 10)
                assignment.append(TopicPartition(topic, p, high))
        self.consumer.assign(assignment)
        self._codecs = {t: client.codec(n, logical_types=False) for t, n in schemas.items()}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                for msg in self.consumer.consume(2000, 0.1):
                    if msg.error() is not None:
                        continue
                    topic = msg.topic() or ""
                    try:
                        record = self._codecs[topic].decode(msg.value() or b"")
                    except (DecodeError, KeyError):
                        continue
                    with self._lock:
                        self.take(topic, record, msg.timestamp()[1])
        finally:
            self.consumer.close()

    def take(self, topic: str, record: dict[str, Any], stamped_ms: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._halt.set()
        self.join(10)


class OutputReader(TopicTail):
    """Reads predictions, alerts, requests and results until :meth:`close`."""

    def __init__(self, client: ClientSettings) -> None:
        t = client.topics
        schemas = {
            t.predictions: "prediction",
            t.drift_alerts: "drift_alert",
            t.retraining: "retraining_request",
            t.retraining_results: "retraining_result",
        }
        super().__init__(
            client, "demo-reader", schemas, **{"fetch.wait.max.ms": 250, "fetch.min.bytes": 65536}
        )
        self.book = LatencyBook()
        self._records: deque[tuple[str, dict[str, Any]]] = deque()
        self.predictions = 0

    def take(self, topic: str, record: dict[str, Any], stamped_ms: int) -> None:
        if topic == self.topics.predictions:
            self.book.add(stamped_ms - record["event_time"])
            self.predictions += 1
        else:
            self._records.append((topic, record))

    def records(self) -> list[tuple[str, dict[str, Any]]]:
        """Alerts, requests and results read since the last call, oldest first."""
        with self._lock:
            out = list(self._records)
            self._records.clear()
            return out

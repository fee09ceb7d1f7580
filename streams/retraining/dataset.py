"""A training set from the topics: events in a range of event time, their labels, and each
entity's features as they were at the event's time (point in time).

Reading. For ``events`` and ``labels``, every partition is read from the offset that
``offsets_for_times`` gives for (range start - ``max_lateness_s``) up to the end offset
captured when reading began: records appended later are left for the next request. Events
are kept when their event_time is in [from, to]; a duplicate event_id keeps its first event.
Labels are kept when their event_id is one of those events; a later label for the same event
replaces an earlier one (a correction). ``features`` is read whole, up to its end offsets.
A record that does not decode, a label that is not 0/1, an event or a features record with a
non-finite number, a tombstone: counted and skipped, never fatal.

Point-in-time correctness. A scoring worker applies each ``features`` record to Redis as it
reads it, so an event scored at its event time saw the latest record of its entity already
on the topic. The training row of an event therefore takes the latest ``features`` record of
its entity whose Kafka timestamp is <= the event's event_time (a tie goes to the later
offset); a record stamped after the event never reaches its row, so nothing from the future
leaks into training. An entity with no such record gets the defaults the worker used for an
unknown entity (the feature view's), and its row counts as NOT point in time:
``point_in_time_share`` in the result is the share of training rows that had a record. A
row's inputs are then built by the project's layout from the event's fields and those
features, as the worker builds them; a label becomes a number (0/1, a class's index, a
value).

Where it does not hold:

- Compaction. ``features`` keeps every record for ``min.compaction.lag.ms`` (7 days,
  streams/topics.py); after that only the latest record per entity is sure to stay. For an
  event older than that, the record the worker used may be gone: if the surviving record is
  newer than the event, the row takes the defaults and counts as not point in time (never the
  newer values); the share shows it. Ranges older than the lag train mostly on defaults.
- Entities loaded straight into Redis (`streamscore features load | load-simulated`,
  ``store.load_sync``) never went through the topic. Without a record on the topic, their
  rows take the defaults and count as not point in time although the worker had values; a
  load over an entity that also has records makes the worker serve the loaded values while
  the rows take the topic's, and still count as point in time: the share cannot see it.
- Timing. The worker applies a record some time after its Kafka timestamp (its consumer
  lag), and scores an event some time after its event_time; event_time is the client's
  clock and the Kafka timestamp the producer's (or the broker's). An event inside those gaps
  may have been scored with the previous record while its row takes the new one.
- Redis down: the worker scored with defaults, the row takes the topic's value (what
  should have been served).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from inference.retraining import TrainingSet
from schemas.errors import DecodeError
from schemas.project import FieldColumns, Project
from streams.features.updates import vector_of
from streams.retraining.reading import DatasetError, Spans, plan, read_spans, reader
from streams.retraining.settings import RetrainingSettings

__all__ = ["DatasetError", "DatasetReader", "DatasetStats", "FeatureHistory"]


@dataclass(slots=True)
class DatasetStats:
    events_in_range: int = 0
    duplicate_events: int = 0
    labelled: int = 0
    bad_events: int = 0
    bad_labels: int = 0
    bad_features: int = 0

    def metrics(self) -> dict[str, float]:
        out = {f.name: float(getattr(self, f.name)) for f in fields(self)}
        out["labelled_share"] = (
            self.labelled / self.events_in_range if self.events_in_range else 0.0
        )
        return out


class FeatureHistory:
    """Each entity's ``features`` records by Kafka timestamp, for point-in-time lookups."""

    def __init__(self, defaults: np.ndarray) -> None:
        self.defaults = defaults
        self._records: dict[str, list[tuple[int, int, np.ndarray]]] = {}
        self._sorted: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, entity_id: str, timestamp_ms: int, offset: int, vector: np.ndarray) -> None:
        self._records.setdefault(entity_id, []).append((timestamp_ms, offset, vector))
        self._sorted.pop(entity_id, None)

    def _of(self, entity_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        if entity_id not in self._sorted:
            records = self._records.get(entity_id)
            if not records:
                return None
            records.sort(key=lambda r: (r[0], r[1]))
            times = np.array([r[0] for r in records], dtype=np.int64)
            self._sorted[entity_id] = (times, np.stack([r[2] for r in records]))
        return self._sorted[entity_id]

    def as_of(self, entity_ids: list[str], times_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, known): row ``i`` holds the latest record of ``entity_ids[i]`` stamped
        <= ``times_ms[i]``, or the defaults (``known[i]`` False) when there is none."""
        values = np.tile(self.defaults, (len(entity_ids), 1))
        known = np.zeros(len(entity_ids), dtype=bool)
        rows_of: dict[str, list[int]] = {}
        for i, entity_id in enumerate(entity_ids):
            rows_of.setdefault(entity_id, []).append(i)
        for entity_id, rows in rows_of.items():
            history = self._of(entity_id)
            if history is None:
                continue
            index = np.asarray(rows)
            at = np.searchsorted(history[0], times_ms[index], side="right") - 1
            found = at >= 0
            values[index[found]] = history[1][at[found]]
            known[index[found]] = True
        return values, known


@dataclass(slots=True)
class _Event:
    entity_id: str
    time_ms: int
    fields: dict[str, Any]  # the fields the inputs read
    label: float | None = None
    segment: str = "none"  # the event's optional segment (None: "none"), for the segment gate


class DatasetReader:
    """Reads training sets from the topics of ``settings``; one consumer, no group commits."""

    def __init__(self, settings: RetrainingSettings) -> None:
        self.settings = settings
        self.timeout_s = settings.training.read_timeout_s
        self.lateness_ms = int(settings.training.max_lateness_s * 1000)
        self.project = settings.use_case()
        self.codecs = {
            name: settings.codec(name, logical_types=False)
            for name in ("event", "label", "entity_features")
        }

    def read(
        self, from_ms: int, to_ms: int, spans: dict[str, Spans] | None = None
    ) -> tuple[TrainingSet, DatasetStats]:
        """The set of [from_ms, to_ms]. ``spans`` (topic -> offsets, from a model card) reads
        exactly those offsets instead; ``self.spans`` tells the offsets read, for the card.
        Rows are in (event time, event_id) order: the same set whatever the partitions'
        interleaving, so that training on it again gives the same model."""
        stats = DatasetStats()
        consumer = reader(self.settings)
        self.spans: dict[str, Spans] = {}
        try:
            topics, seek_ms = self.settings.topics, max(from_ms - self.lateness_ms, 0)

            def read(topic: str, start_ms: int | None) -> Iterator[Message]:
                span = (spans or {}).get(topic)
                if span is None:
                    span = plan(consumer, self.settings, topic, start_ms, self.timeout_s)
                self.spans[topic] = span
                return read_spans(consumer, topic, span, self.timeout_s)

            events = self._events(read(topics.events, seek_ms), from_ms, to_ms, stats)
            self._labels(read(topics.labels, seek_ms), events, stats)
            ordered = sorted(events.items(), key=lambda item: (item[1].time_ms, item[0]))
            labelled = {k: e for k, e in ordered if e.label is not None}
            entities = {e.entity_id for e in labelled.values()}
            history = self._features(read(topics.features, None), entities, stats)
        finally:
            consumer.close()
        return _training_set(self.project, list(labelled.values()), history), stats

    def _events(
        self, messages: Iterator[Message], from_ms: int, to_ms: int, stats: DatasetStats
    ) -> dict[str, _Event]:
        events: dict[str, _Event] = {}
        spec = self.project.spec.events
        layout = self.project.layout
        wanted = (*layout.number_fields, *layout.text_fields)
        for _, record in self._decoded(messages, "event", stats, "bad_events"):
            time_ms = record[spec.time]
            if not from_ms <= time_ms <= to_ms:
                continue
            fields = {name: record.get(name) for name in wanted}
            numbers = [float(v) for n in layout.number_fields if (v := fields[n]) is not None]
            if not all(math.isfinite(v) for v in numbers):
                stats.bad_events += 1  # the worker dead-letters these too (invalid-value)
                continue
            event_id = record[spec.id]
            if event_id in events:
                stats.duplicate_events += 1
                continue
            event = _Event(record[spec.entity], time_ms, fields)
            if spec.segment is not None:
                event.segment = record.get(spec.segment) or "none"
            events[event_id] = event
            stats.events_in_range += 1
        return events

    def _labels(
        self, messages: Iterator[Message], events: dict[str, _Event], stats: DatasetStats
    ) -> None:
        field = self.project.spec.labels.field
        for _, record in self._decoded(messages, "label", stats, "bad_labels"):
            event = events.get(record["event_id"])
            if event is None:
                continue
            value = self.project.outcome(record[field])
            if value is None:
                stats.bad_labels += 1
                continue
            event.label = value
        stats.labelled = sum(1 for e in events.values() if e.label is not None)

    def _features(
        self, messages: Iterator[Message], entities: set[str], stats: DatasetStats
    ) -> FeatureHistory:
        history = FeatureHistory(self.project.feature_defaults)
        key = self.project.features.entity
        for msg, record in self._decoded(messages, "entity_features", stats, "bad_features"):
            kind, timestamp = msg.timestamp()
            vector = np.array(vector_of(self.project, record), dtype=np.float32)
            if kind == TIMESTAMP_NOT_AVAILABLE or not np.all(np.isfinite(vector)):
                stats.bad_features += 1
            elif record[key] in entities:
                history.add(record[key], timestamp, msg.offset() or 0, vector)
        return history

    def _decoded(
        self, messages: Iterator[Message], schema: str, stats: DatasetStats, bad: str
    ) -> Iterator[tuple[Message, dict[str, Any]]]:
        """Decoded records; those that do not decode (tombstones too) counted in ``bad``."""
        codec = self.codecs[schema]
        for msg in messages:
            try:
                record = codec.decode(msg.value() or b"")
            except DecodeError:
                setattr(stats, bad, getattr(stats, bad) + 1)
                continue
            yield msg, record


def _training_set(project: Project, events: list[_Event], history: FeatureHistory) -> TrainingSet:
    layout = project.layout
    times = np.array([e.time_ms for e in events], dtype=np.int64)
    values, known = history.as_of([e.entity_id for e in events], times)
    columns = FieldColumns.of_records(
        [e.fields for e in events], layout.number_fields, layout.text_fields
    )
    x = layout.matrix(columns, values) if events else np.empty((0, layout.width), np.float32)
    y = np.array([e.label for e in events], dtype=np.float64)
    segments = np.array([e.segment for e in events], dtype=object)
    return TrainingSet(x, y, times, known, segments)

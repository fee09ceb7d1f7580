"""What the joined pairs pick up as they stream past: labels and event fields, read first
from their own topics into sorted lookups by event_id (streams/report/pairs.py, Lookup).

Labels are read from the range's start to the end of the topic (outcomes arrive late), a
chunk at a time with numpy (streams/report/labels.py). Event fields, only when a --segment
names one, come from the events topic over the range, decoded record by record: a report
segmented by an event field reads every event of the range once more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from schemas.project import Project
from schemas.project.avro import base_kind, kind_of
from schemas.wire import hash_strings
from streams.client import ClientSettings
from streams.report.columns import Vocabulary
from streams.report.errors import ReportError
from streams.report.labels import LabelDecoder
from streams.report.pairs import Lookup, Segment
from streams.report.reading import RangeReader, TimeRange

PREDICTION_FIELDS = {
    "decision": False, "features_missing": False, "features_stale": False, "score": True,
}  # fmt: skip
Progress = Callable[[int, int], None]  # records read so far, records in the range


def parse_segments(specs: Sequence[str], project: Project) -> list[Segment]:
    own = {project.spec.events.id, project.spec.events.time}
    event_fields = {
        f["name"]: base_kind(kind_of(f["type"])) for f in project.event_schema["fields"]
        if f["name"] not in own
    }  # fmt: skip
    out = []
    for spec in specs:
        name, _, bins_text = spec.partition(":")
        bins = int(bins_text) if bins_text.isdigit() and int(bins_text) > 1 else 4
        if bins_text and not (bins_text.isdigit() and int(bins_text) > 1):
            raise ReportError(f"--segment {spec}: bins must be a whole number above 1")
        if name in PREDICTION_FIELDS:
            out.append(Segment(name, "prediction", PREDICTION_FIELDS[name], bins))
        elif name in event_fields:
            kind = event_fields[name]
            numeric = kind in ("int", "long", "float", "double")
            out.append(Segment(name, "event", numeric, bins))
        else:
            known = sorted({*PREDICTION_FIELDS, *event_fields})
            raise ReportError(f"--segment {name}: no such field; one of {', '.join(known)}")
    return out


def _read_events(
    config: ClientSettings, window: TimeRange, progress: Progress, lateness_ms: int
) -> tuple[list[dict[str, Any]], int]:
    """The events of the range, decoded, and how many did not decode."""
    reader = RangeReader(config, config.topics.events, window, lateness_ms=lateness_ms)
    codec = config.codec("event", logical_types=False)
    time_field = config.use_case().spec.events.time
    records: list[dict[str, Any]] = []
    bad = 0
    try:
        while (chunk := reader.read()) is not None:
            good, errors = codec.decode_many(chunk.values)
            records.extend(good)
            bad += len(errors)
            kept = np.ones(len(chunk.values), dtype=bool)
            kept[[i for i, _ in errors]] = False
            times = np.fromiter((r[time_field] for r in good), np.int64, len(good))
            reader.advance(chunk.partitions[kept], times)  # stops once past the range
            progress(reader.read_count, reader.total)
    finally:
        reader.close()
    return records, bad


def labels(config: ClientSettings, window: TimeRange, progress: Progress) -> tuple[Lookup, int]:
    """Every label sent from the range's start to now: outcomes come late."""
    project = config.use_case()
    if project.task == "regression":  # a value is no class: regression's label figures come
        return Lookup.build(np.empty(0, np.uint64), np.empty(0, np.int8), -1), 0  # per task
    reader = RangeReader(config, config.topics.labels, TimeRange(window.start_ms, 2**62), 0)
    decoder = LabelDecoder(config.codec("label", logical_types=False), project)
    keys, values = [np.empty(0, np.uint64)], [np.empty(0, np.int8)]
    try:
        while (chunk := reader.read()) is not None:
            chunk_keys, chunk_labels = decoder.decode(chunk.values)
            keys.append(chunk_keys)
            values.append(chunk_labels)
            progress(reader.read_count, reader.total)
    finally:
        reader.close()
    return Lookup.build(np.concatenate(keys), np.concatenate(values), -1), decoder.undecodable


def event_lookups(
    config: ClientSettings,
    lateness_s: float,
    window: TimeRange,
    segments: list[Segment],
    progress: Progress,
) -> int:
    records, bad = _read_events(config, window, progress, int(lateness_s * 1000))
    id_field = config.use_case().spec.events.id
    keys = hash_strings([r[id_field] for r in records])
    for segment in segments:
        raw = [r[segment.name] for r in records]
        if segment.numeric:
            values = np.asarray(raw, dtype=np.float32)
            segment.lookup = Lookup.build(keys, values, np.nan)
        else:
            vocabulary = Vocabulary()
            vocabulary.code("(none)")  # code 0: events without the field, or not found
            codes = np.fromiter(
                (vocabulary.code("(none)" if v is None else str(v)) for v in raw),
                np.int32,
                len(raw),
            )
            segment.lookup = Lookup.build(keys, codes, 0)
            segment.names = vocabulary.names
    return bad

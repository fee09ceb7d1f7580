"""`streamscore report shadow`, end to end: read the range, join, compute, judge.

Order of work: the labels (from the range's start to the topic's end: outcomes arrive late)
and, when a segment names an event field, the events of the range are read first into sorted
lookups; then the primary and the shadow topics are read side by side, the side whose clock
is behind first, so the join's buffers stay small (streams/report/join.py); every joined chunk
takes its labels and segment values as it passes. Nothing is read from a topic's beginning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from schemas.codec import load_schema
from streams.client import ClientSettings
from streams.report import compute
from streams.report.columns import PredictionDecoder, Vocabulary, hash_strings
from streams.report.errors import ReportError
from streams.report.join import PRIMARY, SHADOW, Coverage, ShadowJoin
from streams.report.pairs import Lookup, PairStore, Segment
from streams.report.reading import RangeReader, TimeRange, iso
from streams.report.rule import PromotionRule, recommend

DECISIONS = ("approve", "review", "decline")
PREDICTION_FIELDS = {"decision": False, "features_missing": False, "score": True}
Progress = Callable[[int, int], None]  # records read so far, records in the range


@dataclass(frozen=True, slots=True)
class ReportRequest:
    window: TimeRange
    primary: str | None = None  # NAME or NAME:VERSION; None: the most common in the range
    shadow: str | None = None
    segments: Sequence[str] = ()  # FIELD or FIELD:BINS
    shadow_topic: str | None = None  # a replay topic instead of the shadow topic
    lateness_s: float = 60.0
    thresholds: dict[str, float] = field(default_factory=dict)  # decision → score


def parse_segments(specs: Sequence[str]) -> list[Segment]:
    event_fields = {f["name"]: f["type"] for f in load_schema("event")["fields"]}
    out = []
    for spec in specs:
        name, _, bins_text = spec.partition(":")
        bins = int(bins_text) if bins_text.isdigit() and int(bins_text) > 1 else 4
        if bins_text and not (bins_text.isdigit() and int(bins_text) > 1):
            raise ReportError(f"--segment {spec}: bins must be a whole number above 1")
        if name in PREDICTION_FIELDS:
            out.append(Segment(name, "prediction", PREDICTION_FIELDS[name], bins))
        elif name in event_fields and name not in ("event_id", "event_time"):
            kind = event_fields[name]
            numeric = kind in ("int", "long", "float", "double")
            out.append(Segment(name, "event", numeric, bins))
        else:
            known = sorted({*PREDICTION_FIELDS, *event_fields} - {"event_id", "event_time"})
            raise ReportError(f"--segment {name}: no such field; one of {', '.join(known)}")
    return out


def _read_records(
    config: ClientSettings,
    topic: str,
    window: TimeRange,
    schema: str,
    progress: Progress,
    lateness_ms: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    reader = RangeReader(config, topic, window, lateness_ms=lateness_ms)
    codec = config.registry.codec(schema, logical_types=False)
    records: list[dict[str, Any]] = []
    bad = 0
    try:
        while (chunk := reader.read()) is not None:
            good, errors = codec.decode_many(chunk.values)
            records.extend(good)
            bad += len(errors)
            if schema == "event":  # events stop the reading once past the range
                kept = np.ones(len(chunk.values), dtype=bool)
                kept[[i for i, _ in errors]] = False
                times = np.fromiter((r["event_time"] for r in good), np.int64, len(good))
                reader.advance(chunk.partitions[kept], times)
            progress(reader.read_count, reader.total)
    finally:
        reader.close()
    return records, bad


def _labels(config: ClientSettings, window: TimeRange, progress: Progress) -> tuple[Lookup, int]:
    to_the_end = TimeRange(window.start_ms, 2**62)
    records, bad = _read_records(config, config.topics.labels, to_the_end, "label", progress)
    keys = hash_strings([r["event_id"] for r in records])
    values = np.fromiter((r["label"] for r in records), np.int8, len(records))
    return Lookup.build(keys, values, -1), bad


def _event_lookups(
    config: ClientSettings, request: ReportRequest, segments: list[Segment], progress: Progress
) -> int:
    lateness = int(request.lateness_s * 1000)
    records, bad = _read_records(
        config, config.topics.events, request.window, "event", progress, lateness
    )
    keys = hash_strings([r["event_id"] for r in records])
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


def _choose(given: str | None, counts: Counter[str], role: str, topic: str) -> str:
    if given is not None and ":" in given:
        return given
    candidates = {
        ref: n for ref, n in counts.items() if given is None or ref.split(":")[0] == given
    }
    if not candidates:
        found = ", ".join(f"{r} ({n:,})" for r, n in counts.most_common()) or "nothing"
        raise ReportError(f"no {role} outputs of {given or 'any model'} in {topic}; found {found}")
    return max(candidates, key=lambda ref: (candidates[ref], int(ref.rpartition(":")[2] or 0)))


class _Side:
    def __init__(self, config: ClientSettings, topic: str, request: ReportRequest,
                 decoder: PredictionDecoder) -> None:  # fmt: skip
        self.topic = topic
        self.reader = RangeReader(config, topic, request.window, int(request.lateness_s * 1000))
        self.decoder = decoder
        self.first: list[Any] = []

    def next(self) -> Any:
        if self.first:
            return self.first.pop()
        chunk = self.reader.read()
        if chunk is None:
            return None
        cols = self.decoder.decode(chunk.values, chunk.partitions)
        self.reader.advance(cols.partition, cols.event_time)
        return cols


def build_report(
    config: ClientSettings, request: ReportRequest, rule: PromotionRule, progress: Progress
) -> dict[str, Any]:
    window = request.window
    segments = parse_segments(request.segments)
    undecodable = {"primary": 0, "shadow": 0, "labels": 0, "events": 0}
    labels, undecodable["labels"] = _labels(config, window, progress)
    if any(s.source == "event" for s in segments):
        event_segments = [s for s in segments if s.source == "event"]
        undecodable["events"] = _event_lookups(config, request, event_segments, progress)
    codec = config.registry.codec("prediction", logical_types=False)
    models, decisions = Vocabulary(), Vocabulary()
    for name in DECISIONS:
        decisions.code(name)
    shadow_topic = request.shadow_topic or config.topics.shadow
    sides = [
        _Side(
            config, config.topics.predictions, request, PredictionDecoder(codec, models, decisions)
        ),
        _Side(config, shadow_topic, request, PredictionDecoder(codec, models, decisions)),
    ]
    try:
        refs = _pick_models(sides, request, models)
        pairs = PairStore(window.start_ms, labels, segments)
        join = ShadowJoin(window, (models.code(refs[0]), models.code(refs[1])), pairs,
                          grace_ms=int(request.lateness_s * 1000))  # fmt: skip
        total = sum(s.reader.total for s in sides)
        while True:
            open_sides = [
                i for i in (PRIMARY, SHADOW) if sides[i].first or not sides[i].reader.done
            ]
            if not open_sides:
                break
            side = min(open_sides, key=lambda i: sides[i].reader.clock())
            cols = sides[side].next()
            if cols is not None:
                join.add(side, cols, sides[side].reader.clock())
            progress(sum(s.reader.read_count for s in sides), total)
        coverage = join.finish()
    finally:
        for s in sides:
            s.reader.close()
    undecodable["primary"] = sides[0].decoder.undecodable
    undecodable["shadow"] = sides[1].decoder.undecodable
    for role, i in (("primary", PRIMARY), ("shadow", SHADOW)):
        if not coverage.records[i]:
            raise ReportError(
                f"no {role} outputs of {refs[i]} between {iso(window.start_ms)} and "
                f"{iso(window.end_ms)} in {sides[i].topic}"
            )
    report = _assemble(request, refs, pairs, coverage, models, decisions, undecodable)
    report["topics"] = {
        "primary": config.topics.predictions, "shadow": shadow_topic,
        "labels": config.topics.labels,
        "events": config.topics.events if any(s.source == "event" for s in segments) else None,
    }  # fmt: skip
    recommendation = recommend(report, rule)
    report["recommendation"] = {
        "verdict": recommendation.verdict, "line": recommendation.line,
        "reasons": recommendation.reasons, "thresholds": recommendation.thresholds,
    }  # fmt: skip
    return report


def _pick_models(sides: list[_Side], request: ReportRequest, models: Vocabulary) -> tuple[str, str]:
    """The two models compared: as given, else the most common in the range's first chunk."""
    refs = []
    for side, given, role in ((sides[0], request.primary, "primary"),
                              (sides[1], request.shadow, "shadow")):  # fmt: skip
        counts: Counter[str] = Counter()
        cols = side.next()
        if cols is not None:
            side.first.append(cols)
            in_range = (cols.event_time >= request.window.start_ms) & (
                cols.event_time < request.window.end_ms
            )
            for code, n in zip(*np.unique(cols.model[in_range], return_counts=True), strict=True):
                counts[models.names[code]] += int(n)
        if not counts and given is None:
            start, end = request.window.text()
            raise ReportError(f"no {role} outputs between {start} and {end} in {side.topic}")
        refs.append(_choose(given, counts, role, side.topic))
    return refs[0], refs[1]


def _assemble(
    request: ReportRequest,
    refs: tuple[str, str],
    pairs: PairStore,
    coverage: Coverage,
    models: Vocabulary,
    decisions: Vocabulary,
    undecodable: dict[str, int],
) -> dict[str, Any]:
    window = request.window
    names = decisions.names
    records = coverage.records
    report: dict[str, Any] = {
        "version": 1,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "range": dict(zip(("from", "to"), window.text(), strict=True)),
        "primary": refs[0],
        "shadow": refs[1],
        "coverage": {
            "primary_records": records[PRIMARY],
            "shadow_records": records[SHADOW],
            "joined": coverage.joined,
            "primary_only": coverage.only[PRIMARY],
            "shadow_only": coverage.only[SHADOW],
            "duplicates": {
                "primary": coverage.duplicates[PRIMARY],
                "shadow": coverage.duplicates[SHADOW],
            },
            "undecodable": undecodable,
            "out_of_range": sum(coverage.out_of_range),
            "unmatched_past_bound": sum(coverage.at_bound),
            "other_models": {models.names[c]: n for c, n in coverage.other_models.items()},
            "shadow_coverage": coverage.joined / records[PRIMARY] if records[PRIMARY] else None,
        },
    }
    if not coverage.joined:
        raise ReportError(
            f"{refs[0]} and {refs[1]} share no event in the range: nothing to compare "
            f"({records[PRIMARY]:,} primary and {records[SHADOW]:,} shadow outputs)"
        )
    report["decisions"] = compute.decisions(pairs, names)
    report["scores"] = compute.scores(pairs)
    report["segments"] = compute.segments(pairs, names)
    report["latency"] = compute.latency(pairs, refs[0], refs[1])
    report["trend"] = compute.trend(pairs, iso)
    report["labels"] = compute.labels(pairs, (refs[0], refs[1]), request.thresholds)
    return report

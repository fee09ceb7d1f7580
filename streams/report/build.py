"""`streamscore report shadow`, end to end: read the range, join, compute, judge.

Order of work: the labels (from the range's start to the topic's end: outcomes arrive late)
and, when a segment names an event field, the events of the range are read first into sorted
lookups; then the primary and the shadow topics are read side by side, the side whose clock
is behind first, so the join's buffers stay small (streams/report/join.py); every joined chunk
takes its labels and segment values as it passes. Nothing is read from a topic's beginning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from schemas.project import Decider, Project
from streams.client import ClientSettings
from streams.report import compute, lookups, memory
from streams.report.columns import PredictionDecoder, Vocabulary
from streams.report.errors import ReportError
from streams.report.join import PRIMARY, SHADOW, Coverage, ShadowJoin
from streams.report.lookups import Progress
from streams.report.pairs import PairStore
from streams.report.reading import RangeReader, TimeRange, iso
from streams.report.rule import PromotionRule, recommend


def thresholds_of(decider: Decider) -> dict[str, float]:
    """decision -> the score from which it is taken, of a binary decider (precision and
    recall are reported at each); none for another task."""
    if decider.task != "binary" or decider.none:
        return {}
    return dict(zip(decider.names[1:], decider.bounds, strict=True))


def decision_vocabulary(project: Project) -> Vocabulary:
    """Decisions coded as the project's first model's decider numbers them (others after)."""
    decisions = Vocabulary()
    for name in project.decider(project.default_model.name).names:
        decisions.code(name)
    return decisions


@dataclass(frozen=True, slots=True)
class ReportRequest:
    window: TimeRange
    primary: str | None = None  # NAME or NAME:VERSION; None: the most common in the range
    shadow: str | None = None
    segments: Sequence[str] = ()  # FIELD or FIELD:BINS
    shadow_topic: str | None = None  # a replay topic instead of the shadow topic
    lateness_s: float = 60.0
    thresholds: dict[str, float] = field(default_factory=dict)  # decision → score


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
    """One topic of the join, read a chunk at a time; its clock is the event time its
    decoded records reached (per partition, the slowest unfinished one)."""

    def __init__(self, config: ClientSettings, topic: str, request: ReportRequest,
                 decoder: PredictionDecoder) -> None:  # fmt: skip
        self.topic = topic
        self.reader = RangeReader(config, topic, request.window, int(request.lateness_s * 1000))
        self.decoder = decoder
        self.first: list[Any] = []

    @property
    def open(self) -> bool:
        return bool(self.first) or not self.reader.done

    def next(self) -> Any:
        if self.first:
            return self.first.pop()
        chunk = self.reader.read()
        if chunk is None:
            return None
        cols = self.decoder.decode(chunk.values, chunk.partitions)
        self.reader.advance(cols.partition, cols.event_time)
        return cols

    def clock(self) -> int:
        return self.reader.clock()

    def close(self) -> None:
        self.reader.close()


def build_report(
    config: ClientSettings, request: ReportRequest, rule: PromotionRule, progress: Progress
) -> dict[str, Any]:
    window = request.window
    project = config.use_case()
    segments = lookups.parse_segments(request.segments, project)
    memory.return_large_blocks()
    undecodable = {"primary": 0, "shadow": 0, "labels": 0, "events": 0}
    labels, undecodable["labels"] = lookups.labels(config, window, progress)
    if any(s.source == "event" for s in segments):
        event_segments = [s for s in segments if s.source == "event"]
        undecodable["events"] = lookups.event_lookups(
            config, request.lateness_s, window, event_segments, progress
        )
    codec = config.codec("prediction", logical_types=False)
    models, decisions = Vocabulary(), decision_vocabulary(project)
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
            open_sides = [i for i in (PRIMARY, SHADOW) if sides[i].open]
            if not open_sides:
                break
            side = min(open_sides, key=lambda i: sides[i].clock())
            cols = sides[side].next()
            if cols is not None:
                join.add(side, cols, sides[side].clock())
            progress(sum(s.reader.read_count for s in sides), total)
        coverage = join.finish()
    finally:
        for s in sides:
            s.close()
        memory.trim()
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
    report["recommendation"] = recommend(report, rule).as_json()
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
        "mode": "shadow",  # split mode's reports say "split" (streams/report/split.py)
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
    pairs.materialize()
    report["decisions"] = compute.decisions(pairs, names)
    report["scores"] = compute.scores(pairs)
    report["segments"] = compute.segments(pairs, names)
    report["latency"] = compute.latency(pairs, refs[0], refs[1])
    report["trend"] = compute.trend(pairs, iso)
    report["labels"] = compute.labels(pairs, (refs[0], refs[1]), request.thresholds)
    return report

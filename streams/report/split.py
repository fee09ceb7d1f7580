"""`streamscore report shadow --split`: the canary's arm against the primary's, on outcomes.

With a canary routed (streams/routing/split.py), each event is decided by one model: the
canary for its sticky share of entities, the primary for the rest, and the predictions topic
says which in each record's ``role``. Nothing pairs two outputs of one event here; the report
reads the predictions topic over the range (the labels first, into a sorted lookup, as the
shadow mode does), splits each chunk by role, and compares the two arms as independent
samples (streams/report/arms.py, streams/report/unpaired.py). Records of role ``shadow``
(a shadow topic's role, never expected here) and of other models are counted, not used.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from streams.client import ClientSettings
from streams.report import arms, lookups, memory
from streams.report.build import _choose, decision_vocabulary
from streams.report.columns import Columns, PredictionDecoder, Vocabulary, role_vocabulary
from streams.report.errors import ReportError
from streams.report.lookups import Progress
from streams.report.pairs import Lookup
from streams.report.reading import RangeReader, TimeRange
from streams.report.rule import PromotionRule
from streams.report.split_rule import recommend_split


@dataclass(frozen=True, slots=True)
class SplitRequest:
    window: TimeRange
    primary: str | None = None  # NAME or NAME:VERSION; None: the arm's most common model
    canary: str | None = None
    lateness_s: float = 60.0


@dataclass(slots=True)
class _Counts:
    records: int = 0  # in range, either arm's model
    out_of_range: int = 0
    other_models: Counter[str] | None = None
    other_roles: Counter[str] | None = None


class _Split:
    """Routes each decoded chunk's rows to the arms; each arm's model is chosen from the
    first chunk that has its role (as given, else the most common there)."""

    def __init__(self, request: SplitRequest, topic: str, labels: Lookup,
                 models: Vocabulary, roles: Vocabulary) -> None:  # fmt: skip
        self.request, self.topic, self.models, self.roles = request, topic, models, roles
        self.stores = {name: arms.ArmStore(name, labels) for name in arms.ARMS}
        self.given = {"primary": request.primary, "canary": request.canary}
        self.counts = _Counts(other_models=Counter(), other_roles=Counter())

    def add(self, cols: Columns) -> None:
        window, counts = self.request.window, self.counts
        assert counts.other_models is not None and counts.other_roles is not None
        in_range = (cols.event_time >= window.start_ms) & (cols.event_time < window.end_ms)
        counts.out_of_range += int(len(cols) - in_range.sum())
        used = np.zeros(len(cols), dtype=bool)
        for name in arms.ARMS:
            rows = in_range & (cols.role == self.roles.code(name))
            used |= rows
            store = self.stores[name]
            if store.model is None and rows.any():
                found = Counter(self.models.names[c] for c in cols.model[rows].tolist())
                store.ref = _choose(self.given[name], found, name, self.topic)
                store.model = self.models.code(store.ref)
            mine = rows & (cols.model == store.model)
            for code, n in zip(*np.unique(cols.model[rows & ~mine], return_counts=True),
                               strict=True):  # fmt: skip
                counts.other_models[self.models.names[code]] += int(n)
            counts.records += int(mine.sum())
            store.add(cols.take(np.flatnonzero(mine)))
        for code, n in zip(*np.unique(cols.role[in_range & ~used], return_counts=True),
                           strict=True):  # fmt: skip
            counts.other_roles[self.roles.names[code]] += int(n)


def build_split_report(
    config: ClientSettings, request: SplitRequest, rule: PromotionRule, progress: Progress
) -> dict[str, Any]:
    window = request.window
    memory.return_large_blocks()
    labels, bad_labels = lookups.labels(config, window, progress)
    project = config.use_case()
    models, decisions, roles = Vocabulary(), decision_vocabulary(project), role_vocabulary()
    codec = config.codec("prediction", logical_types=False)
    decoder = PredictionDecoder(codec, models, decisions, roles)
    topic = config.topics.predictions
    split = _Split(request, topic, labels, models, roles)
    reader = RangeReader(config, topic, window, int(request.lateness_s * 1000))
    try:
        while (chunk := reader.read()) is not None:
            cols = decoder.decode(chunk.values, chunk.partitions)
            reader.advance(cols.partition, cols.event_time)
            split.add(cols)
            progress(reader.read_count, reader.total)
    finally:
        reader.close()
        memory.trim()
    start, end = window.text()
    for name, store in split.stores.items():
        if not len(store):
            model = f" of {split.given[name]}" if split.given[name] else ""
            raise ReportError(
                f"no {name} outputs{model} (role {name}) between {start} and {end} in {topic}"
                + ("; is a canary routed?" if name == "canary" else "")
            )
    counts = split.counts
    report: dict[str, Any] = {
        "version": 1,
        "mode": "split",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "range": {"from": start, "to": end},
        "primary": split.stores["primary"].ref,
        "canary": split.stores["canary"].ref,
        "topics": {"predictions": topic, "labels": config.topics.labels},
        "coverage": {
            "records": counts.records,
            "out_of_range": counts.out_of_range,
            "undecodable": {"predictions": decoder.undecodable, "labels": bad_labels},
            "other_models": dict(counts.other_models or {}),
            "other_roles": dict(counts.other_roles or {}),
        },
    }
    decider = project.decider(project.default_model.name)
    report |= arms.figures(split.stores, decisions.names, decider.positive)
    report["recommendation"] = recommend_split(report, rule).as_json()
    return report

"""The training set as the retraining worker reads it from the real Kafka: each event with
its label and its entity's features as of its event time; the feature history's ties."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np

from streams.retraining.dataset import DatasetReader, FeatureHistory
from streams.retraining.settings import RetrainingSettings
from streams.simulation.simulator import EventSimulator
from tests.support.projects import DEFAULTS, FEATURE_NAMES, FRAUD, INPUT_WIDTH
from tests.support.retraining import encoded, ms, produce


def test_training_rows_take_the_features_as_of_each_event(settings: RetrainingSettings) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    at = ms(t0)

    def vector(value: float) -> dict[str, float]:
        return dict.fromkeys(FEATURE_NAMES, value)

    feats = settings.topics.features
    produce(
        settings,
        feats,
        encoded("entity_features", [{"entity_id": "a", **vector(1)}], "entity_id"),
        at,
    )
    produce(
        settings,
        feats,
        encoded("entity_features", [{"entity_id": "a", **vector(2)}], "entity_id"),
        at + 10_000,
    )
    produce(
        settings,
        feats,
        encoded("entity_features", [{"entity_id": "b", **vector(3)}], "entity_id"),
        at + 100_000,
    )
    produce(settings, feats, [(b"a", b"garbage"), (b"a", None)], at + 1)
    sim_events = list(itertools.islice(EventSimulator(FRAUD, 1, 5, start=t0).events(), 7))
    events = [e.event for e in sim_events]
    plan = [("a", 5), ("a", 15), ("b", 50), ("c", 60), ("a", 3600), ("a", 20)]
    for event, (entity, seconds) in zip(events, plan, strict=False):
        event.update(entity_id=entity, event_time=t0 + timedelta(seconds=seconds))
    events[6] = {**events[0], "amount": 99.0}  # a duplicate event id: the first one stays
    produce(
        settings,
        settings.topics.events,
        [(b"a", b"\x00bad"), *encoded("event", events, "entity_id")],
    )
    labels = [e.label(t0, FRAUD) for e in sim_events[:5]]  # event 5 (a, 20 s) stays unlabelled
    labels[0]["label"] = 1
    bad_label = {**sim_events[1].label(t0, FRAUD), "label": 2}
    produce(settings, settings.topics.labels, encoded("label", [*labels, bad_label], "entity_id"))

    data, stats = DatasetReader(settings).read(at, at + 120_000)

    assert stats.events_in_range == 5 and stats.duplicate_events == 1
    assert (stats.labelled, stats.bad_events, stats.bad_labels, stats.bad_features) == (4, 1, 1, 2)
    assert stats.metrics()["labelled_share"] == 0.8
    order = np.argsort(data.event_time_ms)
    entity_part = data.x[order][:, INPUT_WIDTH - len(FEATURE_NAMES) :]
    assert entity_part[:, 0].tolist() == [1.0, 2.0, DEFAULTS[0], DEFAULTS[0]]
    assert data.point_in_time[order].tolist() == [True, True, False, False]
    assert data.x[order][0, 0] == np.float32(events[0]["amount"])  # not the duplicate's 99.0
    # bad_label (2) came after event 1's good label: the good one stays.
    assert data.y[order].tolist() == [
        1.0,
        float(sim_events[1].outcome),
        *[float(e.outcome) for e in sim_events[2:4]],
    ]


def test_feature_history_ties_go_to_the_later_offset() -> None:
    history = FeatureHistory(DEFAULTS)
    history.add("a", 100, 7, np.full(8, 2.0, np.float32))
    history.add("a", 100, 3, np.full(8, 1.0, np.float32))
    values, known = history.as_of(["a", "a", "z"], np.array([99, 100, 500]))
    assert values[:, 0].tolist() == [DEFAULTS[0], 2.0, DEFAULTS[0]]
    assert known.tolist() == [False, True, False]

"""The simulator: reproducible, drifting when asked, labelled late, paced (no broker here)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from schemas.project.records import record_model
from streams.simulation.simulator import (
    Drift,
    EventSimulator,
    Pacer,
    SimulatedEvent,
    entity_feature_rows,
    run,
)
from tests.support.projects import EVENT_FIELDS, FEATURE_NAMES, FRAUD, example, true_probability

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def take(sim: EventSimulator, n: int) -> list[SimulatedEvent]:
    return list(itertools.islice(sim.events(), n))


def test_same_seed_same_events_ids_included() -> None:
    a = take(EventSimulator(FRAUD, seed=7, entities=20, start=T0), 1500)
    b = take(EventSimulator(FRAUD, seed=7, entities=20, start=T0), 1500)
    other = take(EventSimulator(FRAUD, seed=8, entities=20, start=T0), 1500)
    assert a == b
    assert [e.event["event_id"] for e in a] != [e.event["event_id"] for e in other]
    assert len({e.event["event_id"] for e in a}) == 1500
    assert {e.event["entity_id"] for e in a} <= {f"acct-{i:06d}" for i in range(20)}


@pytest.mark.parametrize("name", ["fraud", "delivery"])
def test_events_and_labels_fit_their_schemas(name: str) -> None:
    project = example(name)
    for item in take(EventSimulator(project, seed=1, entities=5, start=T0), 1100):
        record_model(project, "event").model_validate(item.event)
        record_model(project, "label").model_validate(item.label(T0, project))


def test_entity_rows_are_the_features_labels_were_drawn_from() -> None:
    """Rebuild the full rows from events + store rows: the outcome rate matches the truth."""
    store = dict(entity_feature_rows(FRAUD, 3, 50))
    assert list(next(iter(store.values()))) == list(FEATURE_NAMES)
    items = take(EventSimulator(FRAUD, seed=3, entities=50, start=T0), 20_000)
    rows = np.array(
        [
            [float(i.event[n]) for n in EVENT_FIELDS]
            + [store[i.event["entity_id"]][n] for n in FEATURE_NAMES]
            for i in items
        ]
    )
    expected = true_probability(rows).mean()
    observed = np.mean([i.outcome for i in items])
    assert abs(observed - expected) < 0.01, (observed, expected)


@pytest.mark.parametrize("feature", ["amount", "merchant_risk", "is_foreign"])
def test_abrupt_drift_shifts_the_feature_and_the_score_from_event_k(feature: str) -> None:
    plain = take(EventSimulator(FRAUD, seed=5, entities=100, start=T0), 4000)
    drifted = take(
        EventSimulator(FRAUD, seed=5, entities=100, drift=Drift(feature, 2000), start=T0), 4000
    )
    assert drifted[:2000] == plain[:2000]  # nothing moves before K

    def mean(items: list[SimulatedEvent], key: str) -> float:
        return float(np.mean([float(i.event[key]) for i in items]))

    assert mean(drifted[2000:], feature) > 1.8 * mean(plain[2000:], feature)
    before = np.mean([i.outcome for i in drifted[:2000]])
    after = np.mean([i.outcome for i in drifted[2000:]])
    assert after > 1.5 * before, (before, after)


def test_gradual_drift_ramps_linearly_over_the_window() -> None:
    drift = Drift("distance_km", at=100, kind="gradual", window=100)
    progress = drift.progress(np.array([0, 99, 100, 149, 199, 500]))
    assert progress.tolist() == [0.0, 0.0, 0.01, 0.5, 1.0, 1.0]
    plain = take(EventSimulator(FRAUD, seed=2, start=T0), 300)
    drifted = take(EventSimulator(FRAUD, seed=2, drift=drift, start=T0), 300)
    shift = [
        d.event["distance_km"] - p.event["distance_km"] for d, p in zip(drifted, plain, strict=True)
    ]
    assert shift[149] == pytest.approx(20.0, abs=1e-3)  # half of the full +40 km
    assert shift[250] == pytest.approx(40.0, abs=1e-3)


def test_drift_refuses_features_that_cannot_move_the_score() -> None:
    with pytest.raises(ValueError, match="cannot drift 'items'"):
        EventSimulator(FRAUD, drift=Drift("items", 10))
    with pytest.raises(ValueError, match="window"):
        Drift("amount", 10, "gradual", window=0)


def test_labels_follow_their_events_after_the_delay_and_none_is_lost() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    sim = EventSimulator(FRAUD, seed=1, start=T0, rate=1000.0)
    report = run(
        sim,
        lambda e: sent.append(("event", e)),
        lambda label: sent.append(("label", label)),
        count=10,
        label_delay=3,
        pacer=Pacer(1e9),
    )
    assert (report.events, report.labels) == (10, 10)
    kinds = "".join("E" if kind == "event" else "L" for kind, _ in sent)
    assert kinds == "EEEEL" + "EL" * 6 + "LLL"
    events = [r for kind, r in sent if kind == "event"]
    labels = [r for kind, r in sent if kind == "label"]
    assert [label["event_id"] for label in labels] == [e["event_id"] for e in events]
    # event 0's outcome became known when event 3 was sent
    assert labels[0]["observed_at"] == events[3]["event_time"]


def test_pacer_holds_the_rate_without_real_sleeping() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(100.0, clock=lambda: now[0], sleep=sleep)
    for i in range(5):
        pacer.wait(i)
    assert slept == pytest.approx([0.01, 0.01, 0.01, 0.01])
    assert pacer.elapsed() == pytest.approx(0.04)


def test_duration_stops_the_run() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    sim = EventSimulator(FRAUD, seed=1, start=T0, rate=50.0)
    pacer = Pacer(50.0, clock=lambda: now[0], sleep=sleep)
    report = run(sim, lambda e: None, None, duration_s=1.0, pacer=pacer)
    assert (report.events, report.labels) == (50, 0)

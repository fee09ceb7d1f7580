"""The guard's decision, and its state fed with real prediction/label/alert records.

The routing store is a small in-memory stand-in for redis-py (GET and the WATCH/MULTI/EXEC
pipeline that ``update_sync`` uses) and the model event is recorded instead of published:
the same path against the real Kafka and Redis is tests/streams/guard/test_guard.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas.codec import codec_for
from streams.guard import guard as guard_module
from streams.guard.guard import LINGER_S, Guard, routed_keys
from streams.guard.judge import DRIFT, ERROR_RATE, LATENCY, judge
from streams.guard.quality import EMPTY, Key, Quality
from streams.guard.settings import GuardConfig, GuardSettings
from streams.routing.state import Canary, ModelRef, Routing, routing_key
from tests.support.projects import FRAUD, fraud_codec

CONFIG = GuardConfig(min_labels=100, error_margin=0.05, max_latency_ms=200)
PRIMARY, CANARY = ModelRef("scorer", "2"), ModelRef("scorer", "3")
ROUTING = Routing(PRIMARY, (ModelRef("challenger", "1"),), Canary(CANARY, 10.0))
ROUTING_KEY = routing_key(FRAUD.name)  # the routing of the project the guard reads


def q(labelled: int, error_rate: float, p99_s: float = 0.05) -> Quality:
    return Quality(labelled, 0.8, 0.5, 0.5, 0.4, error_rate, p99_s)


def test_a_canary_erring_beyond_the_margin_is_rolled_back_with_its_figures() -> None:
    breach = judge(q(800, 0.31), q(5000, 0.12), CONFIG)
    assert breach is not None and breach.kind == ERROR_RATE
    assert breach.reason == "error rate 0.31 vs 0.12 on primary, margin 0.05, 800 labels"
    assert breach.metrics["canary_error_rate"] == 0.31
    assert breach.metrics["primary_labelled"] == 5000


@pytest.mark.parametrize(
    ("canary", "primary"),
    [
        (q(800, 0.16), q(800, 0.12)),  # within the margin
        (q(99, 0.90), q(800, 0.12)),  # too few canary labels
        (q(800, 0.90), q(99, 0.12)),  # too few primary-arm labels to compare with
        (q(800, 0.05), EMPTY),
    ],
)
def test_no_rollback_within_the_margin_or_without_enough_labels(
    canary: Quality, primary: Quality
) -> None:
    assert judge(canary, primary, CONFIG) is None


def test_latency_and_drift_breaches() -> None:
    slow = judge(q(800, 0.12, p99_s=0.35), q(800, 0.12), CONFIG)
    assert slow is not None and slow.kind == LATENCY
    assert slow.reason == "p99 latency 350 ms over the limit of 200 ms, 800 labels"
    assert judge(q(10, 0.12, p99_s=0.35), q(800, 0.12), CONFIG) is None  # too few labels
    drift = judge(EMPTY, EMPTY, CONFIG, "drift alert a-1: psi on amount (0.4 over 0.2)")
    assert drift is not None and drift.kind == DRIFT and drift.reason.startswith("drift alert")
    off = CONFIG.model_copy(update={"rollback_on_drift": False})
    assert judge(EMPTY, EMPTY, off, "drift alert a-1") is None


class FakeStore:
    """GET, and the pipeline of a watched read-modify-write, over one dict."""

    def __init__(self, routing: Routing | None) -> None:
        self.data: dict[str, bytes] = {}
        if routing is not None:
            self.data[ROUTING_KEY] = routing.to_json().encode()

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def pipeline(self) -> FakeStore:
        return self

    def __enter__(self) -> FakeStore:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def watch(self, key: str) -> None: ...
    def multi(self) -> None: ...
    def execute(self) -> None: ...

    def set(self, key: str, value: str) -> None:
        self.data[key] = value.encode()


PREDICTION, LABEL = codec_for("prediction"), fraud_codec("label")


def prediction(event_id: str, model: ModelRef, role: str, score: float) -> bytes:
    return PREDICTION.encode(
        {
            "event_id": event_id, "entity_id": "acct-1", "model_name": model.name,
            "model_version": model.version, "score": score, "decision": "approve",
            "features_missing": False, "event_time": 1_000, "scored_at": 1_040,
            "timings": {"decode_ms": 0.0, "features_ms": 0.0, "infer_ms": 0.0,
                        "publish_ms": 0.0},
            "role": role,
        }
    )  # fmt: skip


def label(event_id: str, value: int) -> bytes:
    return LABEL.encode(
        {"event_id": event_id, "entity_id": "acct-1", "label": value, "observed_at": 2_000}
    )


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(guard_module, "publish_model_event", lambda *a, **k: calls.append(a))
    return calls


def feed(guard: Guard, n: int, canary_wrong: bool) -> None:
    topics = guard.settings.topics
    for i in range(n):
        truth = i % 2
        wrong = 1 - truth if canary_wrong else truth
        guard.handle(topics.predictions, prediction(f"c{i}", CANARY, "canary", 0.9 * wrong), 0)
        guard.handle(topics.predictions, prediction(f"p{i}", PRIMARY, "primary", 0.9 * truth), 0)
        guard.handle(topics.labels, label(f"c{i}", truth), 0)
        guard.handle(topics.labels, label(f"p{i}", truth), 0)


def test_the_guard_rolls_back_a_canary_whose_decisions_are_wrong(
    published: list[tuple[Any, ...]],
) -> None:
    guard = Guard(GuardSettings(guard=CONFIG))
    store = FakeStore(ROUTING)
    feed(guard, 150, canary_wrong=True)
    breach = guard.check(store, now_s=1.0)  # type: ignore[arg-type]
    assert breach is not None and breach.kind == ERROR_RATE
    after = Routing.from_json(store.data[ROUTING_KEY])
    assert after.canary is None and after.primary == PRIMARY
    ((_, kind, model, reason, metrics, before, new, *_),) = published
    assert (kind, model) == ("rollback", "scorer:3")
    assert reason.startswith("error rate 1.00 vs 0.00 on primary")
    assert before.canary.model == CANARY and new.canary is None
    assert metrics["canary_labelled"] == 150
    assert guard.metrics.rollbacks.labels("scorer:3", ERROR_RATE)._value.get() == 1
    # The canary's figures stay on /metrics a while, then go.
    assert guard.metrics.labelled.labels("scorer:3", "canary")._value.get() == 150
    guard.check(store, now_s=2.0)  # type: ignore[arg-type]
    guard.check(store, now_s=3.0 + LINGER_S)  # type: ignore[arg-type]
    assert Key("scorer:3", "canary") not in guard.windows.by_key


def test_a_healthy_canary_stays_and_a_changed_canary_is_never_rolled_back(
    published: list[tuple[Any, ...]],
) -> None:
    guard = Guard(GuardSettings(guard=CONFIG))
    store = FakeStore(ROUTING)
    feed(guard, 150, canary_wrong=False)
    assert guard.check(store, now_s=1.0) is None  # type: ignore[arg-type]
    assert Routing.from_json(store.data[ROUTING_KEY]).canary is not None
    # An operator moved to another canary meanwhile: the breach of scorer:3 does not end it.
    other = Routing(PRIMARY, (), Canary(ModelRef("scorer", "4"), 5.0))
    store.data[ROUTING_KEY] = other.to_json().encode()
    breach = judge(q(800, 0.9), q(800, 0.1), CONFIG)
    assert breach is not None
    assert not guard.rollback(store, CANARY, breach)  # type: ignore[arg-type]
    assert Routing.from_json(store.data[ROUTING_KEY]) == other
    assert published == []


def test_a_drift_alert_for_the_canary_version_rolls_it_back(
    published: list[tuple[Any, ...]],
) -> None:
    guard = Guard(GuardSettings(guard=CONFIG))
    store = FakeStore(ROUTING)
    assert guard.check(store, now_s=0.0) is None  # type: ignore[arg-type]
    alert = codec_for("drift_alert").encode(
        {
            "alert_id": "a-1", "feature": "amount", "detector": "psi", "statistic": 0.4,
            "threshold": 0.2, "window_start": 0, "window_end": 1, "window_size": 10,
            "model_name": "scorer", "model_version": "3", "evidence": {}, "raised_at": 1,
        }
    )  # fmt: skip
    guard.handle(guard.settings.topics.drift_alerts, alert, 1.0)
    breach = guard.check(store, now_s=2.0)  # type: ignore[arg-type]
    assert breach is not None and breach.kind == DRIFT
    assert breach.reason == "drift alert a-1: psi on amount (0.4 over 0.2)"
    assert len(published) == 1


def test_the_routed_pairs() -> None:
    assert routed_keys(ROUTING) == {
        Key("scorer:2", "primary"),
        Key("challenger:1", "shadow"),
        Key("scorer:3", "canary"),
    }

"""The retraining worker against the real Kafka, Redis and Triton.

Each test has its own topics (a random prefix) and its own model names; the worker runs in a
thread of the test process, except in the first test, which runs the real command
(`python -m streams.cli retrain worker`) and stops it with SIGTERM.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Producer
from typer.testing import CliRunner

from infra.config import child_environment
from infra.settings import ServicesSettings
from schemas.codec import codec_for
from schemas.features import ENTITY_FEATURE_NAMES, N_FEATURES
from streams.cli import cli
from streams.features.store import DEFAULTS
from streams.retraining.dataset import DatasetReader, FeatureHistory
from streams.retraining.settings import RetrainingSettings, on_services
from streams.retraining.worker import RetrainingWorker
from streams.routing import ModelRef, Routing
from streams.routing.state import ROUTING_KEY, read_sync
from streams.simulation.simulator import EventSimulator, entity_feature_rows
from streams.topics import TopicNames, ensure_topics
from tests.support.kafka import committed, consume
from tests.support.models import export_model, set_routing

CODECS = {
    name: codec_for(name)
    for name in ("event", "label", "entity_features", "retraining_request", "retraining_result")
}
EPOCHS = 6


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


@pytest.fixture
def settings(stack: ServicesSettings) -> RetrainingSettings:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    topics = TopicNames().prefixed(prefix)
    ensure_topics(stack.kafka_bootstrap, topics.specs())
    return on_services(
        stack,
        topics=topics,
        training={
            "app_id": f"{prefix}-retrainer",
            "epochs": EPOCHS,
            "read_timeout_s": 20.0,
            "ready_timeout_s": 60.0,
        },
    )


@contextmanager
def running(settings: RetrainingSettings) -> Iterator[RetrainingWorker]:
    """A worker in a thread until the block ends; its exception, if any, fails the test."""
    stop = threading.Event()
    worker = RetrainingWorker(settings, stop)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            worker.run()
        except BaseException as exc:  # re-raised in the test below
            errors.append(exc)

    thread = threading.Thread(target=target, name="retrainer", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive(), "the worker did not stop"
        if errors:
            raise errors[0]


def produce(
    settings: RetrainingSettings,
    topic: str,
    values: list[tuple[bytes | None, bytes | None]],
    timestamp_ms: int = 0,
) -> None:
    """Raw key/value pairs, flushed; ``timestamp_ms`` stamps them all (0: now)."""
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 5})
    for key, value in values:
        while True:
            try:
                producer.produce(topic, value=value, key=key, timestamp=timestamp_ms)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(30) == 0


def encoded(
    schema: str, records: list[dict[str, Any]], key: str
) -> list[tuple[bytes | None, bytes | None]]:
    return [(str(r[key]).encode(), CODECS[schema].encode(r)) for r in records]


def send_request(
    settings: RetrainingSettings,
    model: str,
    request_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    request = {
        "request_id": request_id or str(uuid.uuid4()),
        "model_name": model,
        "reason": "test",
        "requested_by": "pytest",
        "alert_ids": [],
        "requested_at": datetime.now(UTC),
        "from_time": start,
        "to_time": end,
    }
    produce(
        settings, settings.topics.retraining, encoded("retraining_request", [request], "model_name")
    )
    return str(request["request_id"])


def results(settings: RetrainingSettings, n: int, timeout_s: float) -> list[dict[str, Any]]:
    messages = consume(settings.kafka.bootstrap, settings.topics.retraining_results, n, timeout_s)
    return [CODECS["retraining_result"].decode(m.value()) for m in messages]


def test_unknown_model_is_rejected_by_the_command(
    settings: RetrainingSettings, tmp_path: Path
) -> None:
    produce(settings, settings.topics.retraining, [(b"x", b"not a request")])
    log = tmp_path / "retrainer.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "retrain", "worker"],
            env=child_environment(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        model = f"nope-{uuid.uuid4().hex[:6]}"
        asked = CliRunner().invoke(
            cli,
            ["retrain", "request", "--model", model, "--reason", "drift"],
            env=settings.environment(),
        )
        assert asked.exit_code == 0, asked.output
        request_id = asked.output.strip()
        [result] = results(settings, 1, 60)
        assert result["request_id"] == request_id
        assert result["model_name"] == model
        assert result["outcome"] == "rejected"
        assert result["reasons"] == [
            f"unknown model {model!r}: no version of it in {settings.model_repository}"
        ]
        assert result["new_version"] is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "skipping an undecodable request" in log.read_text()


def test_the_same_request_id_is_answered_once(settings: RetrainingSettings) -> None:
    request_id = str(uuid.uuid4())
    with running(settings):
        for _ in range(2):
            send_request(settings, "no-such-model", request_id)
        [result] = results(settings, 1, 60)
        assert result["request_id"] == request_id
        requests = settings.topics.retraining
        wait = time.monotonic() + 30
        while committed(settings.kafka.bootstrap, settings.training.app_id, requests, 1) < 2:
            assert time.monotonic() < wait, "the duplicate was never consumed"
            time.sleep(0.2)
    # A new worker, in a new group, reads every request again: it learns from the results
    # topic that this one was answered.
    training = settings.training.model_copy(update={"app_id": settings.training.app_id + "-2"})
    again = settings.model_copy(update={"training": training})
    send_request(again, "no-such-model", request_id)
    with running(again) as worker:
        wait = time.monotonic() + 30
        while committed(again.kafka.bootstrap, again.training.app_id, requests, 1) < 3:
            assert time.monotonic() < wait, "the requests were never consumed"
            time.sleep(0.2)
    assert worker.stats.duplicates == 3
    assert len(results(settings, 2, 3)) == 1


def _simulated(
    settings: RetrainingSettings, n: int, seed: int, coin_flips: bool = False
) -> tuple[EventSimulator, datetime, datetime]:
    """``n`` simulated events over the last 40 minutes, then their labels: the simulator's
    outcomes, or coin flips."""
    start = (datetime.now(UTC) - timedelta(minutes=40)).replace(microsecond=0)
    sim = EventSimulator(seed, 500, start=start, rate=n / 1800)  # 30 minutes of events
    items = list(itertools.islice(sim.events(), n))
    produce(
        settings, settings.topics.events, encoded("event", [i.event for i in items], "entity_id")
    )
    flips = np.random.default_rng(seed).integers(0, 2, n)
    labels = []
    for item, flip in zip(items, flips, strict=True):
        label = item.label(item.event["event_time"] + timedelta(seconds=30))
        labels.append({**label, "label": int(flip)} if coin_flips else label)
    produce(settings, settings.topics.labels, encoded("label", labels, "entity_id"))
    return sim, start, start + timedelta(minutes=31)


def test_coin_flip_labels_are_rejected_by_the_auc_floor(
    settings: RetrainingSettings, stack: ServicesSettings
) -> None:
    model = export_model(stack, f"flips-{uuid.uuid4().hex[:6]}", seed=8)
    _, start, end = _simulated(settings, 4000, seed=4, coin_flips=True)
    with running(settings):
        send_request(settings, model, start=start, end=end)
        [result] = results(settings, 1, 90)
    assert result["outcome"] == "rejected"
    assert any("below the floor of 0.600" in r for r in result["reasons"]), result["reasons"]
    assert result["new_version"] is None
    assert result["primary_version"] == "1"
    metrics = result["metrics"]
    assert metrics["rows"] == 4000
    assert metrics["labelled_share"] == 1.0
    assert metrics["point_in_time_share"] == 0.0  # no features record: defaults everywhere
    assert metrics["candidate_auc"] < 0.6


@contextmanager
def routing_restored(stack: ServicesSettings) -> Iterator[None]:
    """The routing value as it was before the block: other tests set their own, but tidy."""
    store = redis.Redis(host=stack.host, port=stack.redis_port)
    saved = store.get(ROUTING_KEY)
    try:
        yield
    finally:
        if saved is None:
            store.delete(ROUTING_KEY)
        else:
            store.set(ROUTING_KEY, saved)
        store.close()


def test_a_better_model_is_exported_loaded_and_shadowed(
    settings: RetrainingSettings, stack: ServicesSettings
) -> None:
    model = export_model(stack, f"better-{uuid.uuid4().hex[:6]}", seed=7)
    with routing_restored(stack):
        set_routing(stack, Routing(ModelRef(model, "1")))
        _better_model_is_shadowed(settings, stack, model)


def _better_model_is_shadowed(
    settings: RetrainingSettings, stack: ServicesSettings, model: str
) -> None:
    sim = EventSimulator(3, 500)
    before = _ms(datetime.now(UTC) - timedelta(hours=1))
    rows = [{"entity_id": e, **values} for e, values in entity_feature_rows(sim.seed, sim.entities)]
    produce(
        settings, settings.topics.features, encoded("entity_features", rows, "entity_id"), before
    )
    # Updates stamped after every event: a point-in-time read never uses them.
    poison = [{**r, "chargeback_rate_90d": 1.0, "failed_logins_7d": 50.0} for r in rows]
    produce(settings, settings.topics.features, encoded("entity_features", poison, "entity_id"))
    _, start, end = _simulated(settings, 24_000, seed=3)
    with running(settings):
        request_id = send_request(settings, model, start=start, end=end)
        [result] = results(settings, 1, 120)
    assert result["outcome"] == "accepted", result["reasons"]
    assert result["reasons"] == []
    assert (result["new_version"], result["primary_version"]) == ("2", "1")
    m = result["metrics"]
    assert m["rows"] == 24_000 and m["labelled_share"] == 1.0
    assert m["point_in_time_share"] == 1.0
    assert m["candidate_auc"] > m["primary_auc"]
    assert m["candidate_logloss"] < m["primary_logloss"]
    folder = settings.model_repository / model / "2"
    assert (folder / "reference.json").exists()
    assert json.loads((folder / "metadata.json").read_text())["request_id"] == request_id
    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    assert triton.is_model_ready(model, "2")
    triton.close()
    store = redis.Redis(host=stack.host, port=stack.redis_port)
    assert read_sync(store) == Routing(ModelRef(model, "1"), (ModelRef(model, "2"),))
    store.close()


def test_training_rows_take_the_features_as_of_each_event(settings: RetrainingSettings) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    at = _ms(t0)

    def vector(value: float) -> dict[str, float]:
        return dict.fromkeys(ENTITY_FEATURE_NAMES, value)

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
    sim_events = list(itertools.islice(EventSimulator(1, 5, start=t0).events(), 7))
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
    labels = [e.label(t0) for e in sim_events[:5]]  # event 5 (a, 20 s) stays unlabelled
    labels[0]["label"] = 1
    bad_label = {**sim_events[1].label(t0), "label": 2}
    produce(settings, settings.topics.labels, encoded("label", [*labels, bad_label], "entity_id"))

    data, stats = DatasetReader(settings).read(at, at + 120_000)

    assert stats.events_in_range == 5 and stats.duplicate_events == 1
    assert (stats.labelled, stats.bad_events, stats.bad_labels, stats.bad_features) == (4, 1, 1, 2)
    assert stats.metrics()["labelled_share"] == 0.8
    order = np.argsort(data.event_time_ms)
    entity_part = data.x[order][:, N_FEATURES - len(ENTITY_FEATURE_NAMES) :]
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
    history = FeatureHistory()
    history.add("a", 100, 7, np.full(8, 2.0, np.float32))
    history.add("a", 100, 3, np.full(8, 1.0, np.float32))
    values, known = history.as_of(["a", "a", "z"], np.array([99, 100, 500]))
    assert values[:, 0].tolist() == [DEFAULTS[0], 2.0, DEFAULTS[0]]
    assert known.tolist() == [False, True, False]

"""The retraining worker against the real Kafka, Redis and Triton.

Each test has its own topics (a random prefix) and its own model names; the worker runs in a
thread of the test process, except in the first test, which runs the real command
(`python -m streams.cli retrain worker`), reads its /metrics and stops it with SIGTERM. The
threaded ones read the worker's metrics from its registry.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import redis
import tritonclient.grpc as grpcclient
from typer.testing import CliRunner

from infra.config import child_environment
from infra.process import free_port
from infra.settings import ServicesSettings
from streams.cli import cli
from streams.retraining.metrics import STEPS
from streams.retraining.settings import RetrainingSettings
from streams.routing import ModelRef, Routing
from streams.routing.state import read_sync, routing_key
from streams.simulation.simulator import EventSimulator, entity_feature_rows
from tests.support.kafka import committed, consume
from tests.support.models import export_model, set_routing
from tests.support.projects import FRAUD
from tests.support.retraining import (
    CODECS,
    encoded,
    idle,
    ms,
    produce,
    running,
    sample,
    steps_taken,
)
from tests.support.waiting import metric, wait_for

ROUTING_KEY = routing_key(FRAUD.name)  # the routing of the project the worker reads


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
    port = free_port()
    training = settings.training.model_copy(update={"metrics_port": port})
    settings = settings.model_copy(update={"training": training})
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

        def scraped() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as page:
                return str(page.read().decode())

        requests = "streamscore_retraining_requests_total"
        # The result is acknowledged before it is counted: wait for the count.
        wait_for(
            lambda: metric(scraped(), f'{requests}{{outcome="rejected"}}') == 1.0, 10, "a count"
        )
        text = scraped()
        assert metric(text, f'{requests}{{outcome="undecodable"}}') == 1.0
        assert metric(text, f'{requests}{{outcome="accepted"}}') == 0.0
        assert metric(text, 'streamscore_retraining_state{state="idle"}') == 1.0
        assert metric(text, "streamscore_retraining_state{") == 1.0  # one state at a time
        assert metric(text, "streamscore_retraining_step_seconds_count") == 0.0  # no step run
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
    assert sample(worker.metrics, "streamscore_retraining_requests_total", outcome="duplicate") == 3
    assert len(results(settings, 2, 3)) == 1


def _simulated(
    settings: RetrainingSettings, n: int, seed: int, coin_flips: bool = False
) -> tuple[EventSimulator, datetime, datetime]:
    """``n`` simulated events over the last 40 minutes, then their labels: the simulator's
    outcomes, or coin flips."""
    start = (datetime.now(UTC) - timedelta(minutes=40)).replace(microsecond=0)
    sim = EventSimulator(FRAUD, seed, 500, start=start, rate=n / 1800)  # 30 minutes of events
    items = list(itertools.islice(sim.events(), n))
    produce(
        settings, settings.topics.events, encoded("event", [i.event for i in items], "entity_id")
    )
    flips = np.random.default_rng(seed).integers(0, 2, n)
    labels = []
    for item, flip in zip(items, flips, strict=True):
        label = item.label(item.event["event_time"] + timedelta(seconds=30), FRAUD)
        labels.append({**label, "label": int(flip)} if coin_flips else label)
    produce(settings, settings.topics.labels, encoded("label", labels, "entity_id"))
    return sim, start, start + timedelta(minutes=31)


def test_coin_flip_labels_are_rejected_by_the_auc_floor(
    settings: RetrainingSettings, stack: ServicesSettings
) -> None:
    model = export_model(stack, f"flips-{uuid.uuid4().hex[:6]}", seed=8)
    _, start, end = _simulated(settings, 4000, seed=4, coin_flips=True)
    with running(settings) as worker:
        send_request(settings, model, start=start, end=end)
        [result] = results(settings, 1, 90)
    assert result["outcome"] == "rejected"
    # Trained and gated, never exported; back to idle once answered.
    assert steps_taken(worker.metrics) == {
        "reading": 1, "training": 1, "gating": 1, "exporting": 0, "loading": 0
    }  # fmt: skip
    assert idle(worker.metrics)
    assert sample(worker.metrics, "streamscore_retraining_requests_total", outcome="rejected") == 1
    assert sample(worker.metrics, "streamscore_retraining_last_version", model=model) == 0
    assert any("below the floor of 0.600" in r for r in result["reasons"]), result["reasons"]
    assert result["new_version"] is None
    assert result["primary_version"] == "1"
    metrics = result["metrics"]
    assert metrics["rows"] == 4000
    assert metrics["labelled_share"] == 1.0
    assert metrics["point_in_time_share"] == 0.0  # no features record: defaults everywhere
    assert metrics["candidate_auc"] < 0.6
    # The golden-set gate refuses it too (a coin flip sends safe events to review), and the
    # segment gate judged every simulated segment: their reasons and metrics are on the result.
    golden = [r for r in result["reasons"] if "golden-set decisions" in r]
    assert len(golden) == 1 and metrics["golden_flips"] > 2, result["reasons"]
    assert f"{int(metrics['golden_flips'])} of the 200 golden-set decisions" in golden[0]
    assert "(approve -> review)" in golden[0] or "(approve -> decline)" in golden[0]
    for segment in ("retail", "gaming", "travel", "none"):
        assert metrics[f"segment_{segment}_rows"] > 0
        assert f"segment_{segment}_candidate_positive_rate" in metrics


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
    sim = EventSimulator(FRAUD, 3, 500)
    before = ms(datetime.now(UTC) - timedelta(hours=1))
    rows = [
        {"entity_id": e, **values}
        for e, values in entity_feature_rows(FRAUD, sim.seed, sim.entities)
    ]
    produce(
        settings, settings.topics.features, encoded("entity_features", rows, "entity_id"), before
    )
    # Updates stamped after every event: a point-in-time read never uses them.
    poison = [{**r, "chargeback_rate_90d": 1.0, "failed_logins_7d": 50.0} for r in rows]
    produce(settings, settings.topics.features, encoded("entity_features", poison, "entity_id"))
    _, start, end = _simulated(settings, 24_000, seed=3)
    with running(settings) as worker:
        request_id = send_request(settings, model, start=start, end=end)
        [result] = results(settings, 1, 120)
    assert result["outcome"] == "accepted", result["reasons"]
    assert steps_taken(worker.metrics) == dict.fromkeys(STEPS, 1.0)
    assert idle(worker.metrics)
    assert sample(worker.metrics, "streamscore_retraining_requests_total", outcome="accepted") == 1
    assert sample(worker.metrics, "streamscore_retraining_last_version", model=model) == 2
    assert result["reasons"] == []
    assert (result["new_version"], result["primary_version"]) == ("2", "1")
    m = result["metrics"]
    assert m["rows"] == 24_000 and m["labelled_share"] == 1.0
    assert m["point_in_time_share"] == 1.0
    assert m["candidate_auc"] > m["primary_auc"]
    assert m["candidate_logloss"] < m["primary_logloss"]
    assert m["golden_flips"] <= settings.gate.golden_max_flips  # a sound candidate
    assert m["segment_travel_candidate_auc"] > 0.6
    folder = settings.model_repository / model / "2"
    assert (folder / "reference.json").exists()
    card = json.loads((folder / "card.json").read_text())
    assert card["request"]["request_id"] == request_id
    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    assert triton.is_model_ready(model, "2")
    triton.close()
    store = redis.Redis(host=stack.host, port=stack.redis_port)
    assert read_sync(store, ROUTING_KEY) == Routing(ModelRef(model, "1"), (ModelRef(model, "2"),))
    store.close()

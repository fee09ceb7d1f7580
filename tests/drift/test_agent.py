"""The drift agent on the real broker, fed by real scoring workers (both engines)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import pytest
import redis
from typer.testing import CliRunner

from drift.settings import status_key_of
from infra.config import merge_sections
from infra.settings import ServicesSettings
from schemas.codec import codec_for
from streams.cli import cli
from streams.routing import ModelRef, Routing
from streams.simulation.simulator import Drift
from tests.support.drift import (
    RATE,
    T0,
    agent_metric,
    load_entities,
    read_records,
    send_events,
    simulator,
)
from tests.support.kafka import consume, create_topics, produce
from tests.support.models import set_routing
from tests.support.projects import FRAUD
from tests.support.samples import SAMPLES
from tests.support.waiting import metric, wait_for

Kind = Literal["abrupt", "gradual"]
SUMMARY = codec_for("window_summary")
WINDOW_S = 5.0
AGENT = {
    "agent": {"label_join": False},
    # A worker starved of CPU by the rest of the suite can pause for seconds: a pause longer
    # than idle_close_s would close its window in progress (docs/drift.md, "Windows"); the
    # tests' last windows close for quiet, 15 s after the stream ends.
    "window": {"size_s": WINDOW_S, "allowed_lateness_s": 1.0, "idle_close_s": 15.0},
    "policy": {"cooldown_s": 3600.0},
}
WORKER = {"window": {"size_s": WINDOW_S}, "batch": {"size": 512}}


@pytest.fixture
def scoring(
    stack: ServicesSettings, start_worker: Any, start_agent: Any, request: pytest.FixtureRequest
) -> Callable[..., tuple[Any, Any]]:
    """A worker of the engine under test and a drift agent, on the test's topics."""
    load_entities(stack)
    set_routing(stack, Routing(ModelRef("scorer", "1")))

    def start(engine: str, **agent: Any) -> tuple[Any, Any]:
        """``agent``: the agent's settings on top of AGENT; its window goes to the worker too."""
        window = {"window": agent["window"]} if "window" in agent else {}
        worker = start_worker(engine=engine, **merge_sections(WORKER, window))
        create_topics(stack.kafka_bootstrap, worker.topics)
        return worker, start_agent(**merge_sections(AGENT, agent))

    return start


def closed_events(agent: Any) -> float:
    """Events in the windows the agent has closed."""
    return agent_metric(agent, "streamscore_drift_window_events_total")


def wait_closed(agent: Any, n: int, timeout_s: float = 120) -> None:
    """Until the agent's closed windows hold exactly ``n`` events; the agent's counts of
    what became of each summary when they never do."""
    try:
        wait_for(lambda: closed_events(agent) == n, timeout_s, f"{n} events in closed windows")
    except AssertionError as exc:
        page = agent.metrics()
        shown = [line for line in page.splitlines() if "merged_total{" in line or "window" in line]
        detail = f"{exc}: {closed_events(agent):.0f} so far\n" + "\n".join(shown)
        raise AssertionError(detail) from None


@pytest.mark.parametrize("engine", ["librdkafka", "faust"])
def test_a_stationary_stream_never_asks_for_retraining(
    stack: ServicesSettings, scoring: Any, engine: str
) -> None:
    worker, agent = scoring(engine)
    n = 50_000
    send_events(stack.kafka_bootstrap, worker.topics.events, simulator(), n)
    wait_closed(agent, n)
    page = agent.metrics()
    assert metric(page, "streamscore_drift_windows_closed_total") >= n / RATE / WINDOW_S
    assert read_records(stack.kafka_bootstrap, worker.topics.retraining, "retraining_request") == []
    alerts = read_records(stack.kafka_bootstrap, worker.topics.drift_alerts, "drift_alert")
    assert [a for a in alerts if a["detector"] in ("psi", "ks")] == []


@pytest.mark.parametrize(
    ("engine", "kind", "windows"),
    [("librdkafka", "abrupt", 2), ("faust", "abrupt", 2), ("librdkafka", "gradual", 3)],
)
def test_a_one_sigma_shift_is_named_within_the_calibrated_delay(
    stack: ServicesSettings, scoring: Any, engine: str, kind: Kind, windows: int
) -> None:
    """docs/drift.md's calibration: an abrupt 1-sigma shift is named in the window it starts in
    (at most 2 windows after the onset), a gradual one (a ramp of one window) one later."""
    worker, agent = scoring(engine)
    onset = 20_000
    drift = Drift("merchant_risk", onset, kind, window=5_000, unit="sigma", magnitude=1.0)
    send_events(stack.kafka_bootstrap, worker.topics.events, simulator(drift), 40_000)
    wait_closed(agent, 40_000)
    alerts = read_records(stack.kafka_bootstrap, worker.topics.drift_alerts, "drift_alert")
    named = sorted(a["window_end"] for a in alerts if a["feature"] == "merchant_risk")
    assert named, f"no alert on merchant_risk: {[(a['feature'], a['detector']) for a in alerts]}"
    onset_ms = int(T0.timestamp() * 1000 + onset / RATE * 1000)
    assert named[0] - onset_ms <= windows * WINDOW_S * 1000
    assert all(end > onset_ms for end in named), "an alert before the shift"
    requests = read_records(stack.kafka_bootstrap, worker.topics.retraining, "retraining_request")
    assert len(requests) == 1, requests  # one request, not one per drifted window
    cited = {a["alert_id"] for a in alerts}
    assert set(requests[0]["alert_ids"]) <= cited and requests[0]["alert_ids"]


def test_a_sigkilled_agent_restarts_with_its_window_intact(
    stack: ServicesSettings, scoring: Any, start_agent: Any
) -> None:
    """One long window: half its events merged, the agent killed mid-window, the other half
    sent while it is down; the restarted agent closes it with every event counted once."""
    worker, agent = scoring("librdkafka", window={"size_s": 60.0, "idle_close_s": 600.0})
    sim = simulator()
    send_events(stack.kafka_bootstrap, worker.topics.events, sim, 20_000)
    wait_for(lambda: open_window_events(stack) == 20_000, 60, "the first half merged")
    shown = CliRunner().invoke(cli, ["drift", "status", "--redis-url", stack.redis_url])
    assert shown.exit_code == 0, shown.output
    assert "scorer:1: window from" in shown.output and "20000 events so far" in shown.output
    assert "merchant_risk" in shown.output
    agent.kill()
    send_events(stack.kafka_bootstrap, worker.topics.events, sim, 10_000, skip=20_000)
    restarted = start_agent(window={"size_s": 60.0, "idle_close_s": 6.0})
    wait_for(lambda: closed_events(restarted) >= 30_000, 120, "the window closed")
    page = restarted.metrics()
    assert metric(page, "streamscore_drift_window_events_total") == 30_000
    assert metric(page, "streamscore_drift_windows_closed_total") == 1


def open_window_events(stack: ServicesSettings) -> int:
    """Events in the newest open window of scorer:1, from the status the agent writes."""
    raw = redis.Redis(host=stack.host, port=stack.redis_port).get(status_key_of(FRAUD.name))
    window = json.loads(raw or "{}").get("versions", {}).get("scorer:1", {}).get("window")
    return int(window["events"]) if window else 0


def test_labels_join_their_predictions_and_bad_input_never_stops_the_agent(
    stack: ServicesSettings, scoring: Any
) -> None:
    # A tiny retraining schedule rides along: the agent asks for scorer once it has watched
    # it for 2 s (docs/drift.md, "Scheduled retraining").
    worker, agent = scoring(
        "librdkafka", agent={"label_join": True, "label_sample": 1.0}, policy={"every": "2s"}
    )
    topics = worker.topics
    n = 5_000
    send_events(stack.kafka_bootstrap, topics.events, simulator(), n, labels_topic=topics.labels)
    produce(stack.kafka_bootstrap, topics.labels, [(b"acct-1", b"\x00not a label")])
    stranger = {**SAMPLES["window_summary"], "model_name": "nobody", "n_bins": 10}
    stranger["counts"] = [0] * ((FRAUD.layout.width + 1) * 10)  # every input and the score
    produce(
        stack.kafka_bootstrap, topics.drift_summaries, [(b"nobody:1", SUMMARY.encode(stranger))]
    )

    def joined() -> float:
        return agent_metric(agent, 'streamscore_drift_label_join_total{outcome="matched"}')

    wait_for(lambda: joined() == n, 120, f"{n} labels joined with their predictions")
    page = agent.metrics()
    assert metric(page, 'streamscore_drift_summaries_merged_total{outcome="unknown-version"}') == 1
    assert 'streamscore_drift_error_rate{model="scorer:1"}' in page
    (letter,) = consume(stack.kafka_bootstrap, topics.dlq, 1)
    headers = dict(letter.headers() or [])
    assert letter.value() == b"\x00not a label"
    assert headers["source.topic"].decode() == topics.labels
    assert headers["error.reason"] == b"bad-magic"
    assert agent.proc.poll() is None

    def scheduled() -> list[Any]:
        requests = read_records(stack.kafka_bootstrap, topics.retraining, "retraining_request")
        return [r for r in requests if r["reason"] == "schedule"]

    wait_for(lambda: scheduled() != [], 60, "a scheduled retraining request")
    assert {r["model_name"] for r in scheduled()} == {"scorer"}  # not the unknown "nobody"

"""Row 11 of the fault table: the drift agent SIGKILLed mid-window.

One window of summaries, counted as a scoring worker counts (drift/summary.py) and published
as it publishes them (key ``name:version``): the first part merged and its offsets committed,
the agent SIGKILLed, the summaries it consumed deleted from the topic (as retention would, in
time), a new agent started with the same app id, the rest of the window sent. The window can
then close whole only if the new agent rebuilt its tables from their changelogs, and it must
close as one uninterrupted agent closes it (drift/state.py over dicts, the agent's own code,
replayed here): the same events, statistics and alerts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from drift.settings import DriftAgentSettings
from drift.state import Applied, Closed, DriftState
from drift.summary import RepositoryReferences, WindowAccumulator
from drift.windows import WindowConfig
from infra.process import log_tail
from infra.settings import ServicesSettings
from schemas.codec import codec_for
from streams.topics import TopicNames
from tests.conftest import Child
from tests.support.drift import T0, agent_metric, read_records
from tests.support.kafka import committed, create_topics, produce
from tests.support.models import DEFAULT_MODEL
from tests.support.projects import FRAUD, sample_features, true_probability
from tests.support.waiting import metric, wait_for

T0_MS = int(T0.timestamp() * 1000)  # a window start (a whole minute)
RATE = 500  # events per second of event time; one summary a second, as a worker flushes
WINDOW = {"size_s": 10.0, "allowed_lateness_s": 1.0, "idle_close_s": 120.0}
BEFORE = [0, 1, 2, 3]  # seconds of the window summarised before the kill
AFTER = [4, 5, 6, 7, 8, 9, 11]  # the rest, then a second of the next window, whose watermark
# (event time 11.999 s) passes the first window's end plus the lateness: that closes it.
AGENT = {"agent": {"label_join": False}, "window": WINDOW}
MODEL = (DEFAULT_MODEL, "1")  # the fraud starter, with its reference, on the test stack
VKEY = ":".join(MODEL)
RISK = FRAUD.layout.columns.index("merchant_risk")
SUMMARY = codec_for("window_summary", logical_types=False)


def summaries(references: RepositoryReferences, seconds: list[int]) -> list[dict[str, Any]]:
    """One worker's summaries of RATE events a second. The part before the kill has
    ``merchant_risk`` shifted: the merged window drifts only if that part is in it."""
    acc = WindowAccumulator(references, WindowConfig(**WINDOW), producer="row11-worker",
                            feature_columns=FRAUD.layout.feature_columns)  # fmt: skip
    out = []
    for second in seconds:
        x = sample_features(np.random.default_rng(second), RATE)
        if second in BEFORE:
            x[:, RISK] += 0.3
        scores = true_probability(x)
        times = T0_MS + second * 1000 + np.arange(RATE) * (1000 // RATE)
        decisions = np.digitize(scores, [0.5, 0.8])
        acc.add(*MODEL, times, x, scores, np.zeros(RATE, bool), decisions)
        out += acc.drain()
    return out


def uninterrupted(references: RepositoryReferences, fed: list[dict[str, Any]]) -> list[Closed]:
    """What an agent that never stopped closes, with the agent's settings."""
    config = WindowConfig(**WINDOW)
    settings = DriftAgentSettings(**AGENT)  # the project's drift settings under the agent's
    state = DriftState({}, {}, {}, references, config, settings.detectors, settings.policy)
    closed = []
    for record in fed:
        assert state.apply(record, 0, 0.0) is Applied.APPLIED
        closed += state.close_due(VKEY, 0.0)
    return closed


def merged(agent: Child, outcome: str) -> float:
    return agent_metric(agent, f'streamscore_drift_summaries_merged_total{{outcome="{outcome}"}}')


def statistics(page: str) -> dict[tuple[str, str], float]:
    """(column, detector) → the statistic gauge of the last closed window."""
    found = {}
    for line in page.splitlines():
        if line.startswith("streamscore_drift_statistic{"):
            labels, value = line.rsplit(" ", 1)
            named = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            found[(named["feature"], named["detector"])] = float(value)
    return found


def forget_consumed(bootstrap: str, group: str, topic: str, partitions: int = 4) -> None:
    """Delete from ``topic`` every record ``group`` committed: nobody reads them again."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        done = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
    finally:
        consumer.close()
    upto = [TopicPartition(topic, tp.partition, tp.offset) for tp in done if tp.offset > 0]
    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until its answers came
    for future in admin.delete_records(upto).values():
        future.result(10)


def changelog_sizes(bootstrap: str, group: str) -> dict[str, int]:
    """Records on each of the agent's changelog topics (for a failure's message)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{group}-probe"})
    try:
        names = [t for t in consumer.list_topics(timeout=10).topics if t.startswith(group)]
        sizes = {}
        for name in names:
            meta = consumer.list_topics(name, timeout=10).topics[name]
            sizes[name] = sum(
                consumer.get_watermark_offsets(TopicPartition(name, p), 10)[1]
                for p in meta.partitions
            )
        return sizes
    finally:
        consumer.close()


def test_row11_a_sigkilled_drift_agent_closes_its_window_from_the_changelog(
    stack: ServicesSettings,
    start_agent: Callable[..., Child],
    topic_prefix: str,
) -> None:
    bootstrap = stack.kafka_bootstrap
    topics = TopicNames().prefixed(topic_prefix)
    create_topics(bootstrap, topics)
    references = RepositoryReferences(stack.model_repository, FRAUD.layout.columns)
    fed = summaries(references, [*BEFORE, *AFTER])  # one a second, in order
    before, after = fed[: len(BEFORE)], fed[len(BEFORE) :]
    expected = uninterrupted(references, fed)
    assert len(expected) == 1 and expected[0].alerts, "the replay closes one drifted window"
    n = expected[0].window.events
    a = sum(s["events"] for s in before)
    b = sum(s["events"] for s in after if s["window_start"] == T0_MS)
    assert n == a + b == (len(AFTER) - 1 + len(BEFORE)) * RATE

    def send(records: list[dict[str, Any]]) -> None:
        produce(
            bootstrap, topics.drift_summaries, [(VKEY.encode(), SUMMARY.encode(r)) for r in records]
        )

    agent = start_agent(**AGENT)
    group = agent.settings.agent.app_id
    send(before)

    def first_part_durable() -> bool:
        applied = merged(agent, "applied") == len(before)
        return applied and committed(bootstrap, group, topics.drift_summaries) == len(before)

    wait_for(first_part_durable, 60, "the first part merged and its offsets committed")
    assert agent_metric(agent, "streamscore_drift_windows_closed_total") <= 0
    agent.kill()
    forget_consumed(bootstrap, group, topics.drift_summaries)

    restarted = start_agent(**AGENT)  # the same app id: the same group and changelogs
    send(after)
    closed = "streamscore_drift_windows_closed_total"
    wait_for(lambda: agent_metric(restarted, closed) >= 1, 60, "the restarted agent to close it")
    page = restarted.metrics()
    closed_with = metric(page, "streamscore_drift_window_events_total")
    line = f"window of {n} events: before kill {a}, after {b}, closed with {closed_with:.0f}"
    print(f"\n[row 11] {line}")
    assert closed_with == n, (
        "events of the window lost (or doubled) across the kill; changelog records: "
        f"{changelog_sizes(bootstrap, group)}; merged after the restart: "
        f"{merged(restarted, 'applied')} applied, {merged(restarted, 'duplicate')} duplicate, "
        f"{merged(restarted, 'late')} late"
    )
    assert metric(page, closed) == 1
    assert statistics(page) == pytest.approx(expected[0].statistics, rel=1e-12)
    # It merged only what came after the kill: the rest was in the tables it restored.
    assert merged(restarted, "applied") == len(after)
    assert merged(restarted, "duplicate") <= 0 and merged(restarted, "late") <= 0
    log = restarted.log.read_text(errors="replace")
    assert "Restoring state from changelog topics" in log, log_tail(restarted.log)

    def alert_keys(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (x["alert_id"], x["feature"], x["detector"], x["window_size"]) for x in alerts
        )

    want = alert_keys(expected[0].alerts)
    wait_for(
        lambda: alert_keys(read_records(bootstrap, topics.drift_alerts, "drift_alert", 2)) == want,
        30,
        f"the uninterrupted agent's alerts {want}",
    )

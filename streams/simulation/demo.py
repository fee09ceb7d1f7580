"""The live demo behind `make run` (`streamscore demo`), on the services `streamscore up` started.

It loads the simulator's entity features into Redis, makes sure a second version of the
model exists to run as a shadow (training it when missing), starts a real `streamscore
worker`, streams simulated events (with drift from a known event, and a few malformed
messages) and shows, live, what comes out of the prediction, shadow and dead-letter topics.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from infra.config import child_environment
from infra.errors import StreamScoreError
from infra.settings import ServicesSettings
from schemas.codec import codec_for
from schemas.features import ENTITY_FEATURE_NAMES
from streams.client import ClientSettings, EventProducer, LabelProducer
from streams.features.store import load_sync
from streams.routing import ModelRef, Routing, state
from streams.simulation import simulator as sim
from streams.worker.settings import on_services

console = Console()
DEMO_GROUP = "streamscore-demo"


class DemoError(StreamScoreError):
    """The demo could not run to its end; the message says what to look at."""


@dataclass
class Tally:
    """What the output topics showed so far."""

    primary: dict[str, tuple[float, str]] = field(default_factory=dict)  # event_id → score
    shadow: dict[str, tuple[float, str]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    decisions: dict[str, int] = field(default_factory=dict)
    dead: list[bytes] = field(default_factory=list)
    models: set[str] = field(default_factory=set)


def prepare(config: ServicesSettings, entities: int, seed: int) -> Routing:
    """Entity features in Redis, scorer:1 primary and scorer:2 shadow on Triton."""
    from inference.repository import DEFAULT_MODEL, ModelRepository
    from inference.synthetic import labelled_dataset
    from inference.training import TrainConfig, train_and_export

    services = on_services(config)  # their addresses and credentials
    store = services.redis.client()
    rows = [
        (e, [v[n] for n in ENTITY_FEATURE_NAMES])
        for e, v in sim.entity_feature_rows(seed, entities)
    ]
    load_sync(store, rows)
    repo = ModelRepository(config.model_repository)
    if len(repo.versions(DEFAULT_MODEL)) < 2:
        console.print("training scorer:2 (the challenger) on fresh synthetic data…")
        x, y = labelled_dataset(seed=101, n=40_000)
        training = TrainConfig(epochs=10, hidden=48, seed=101)
        metadata = {"trained_on": "synthetic", "seed": 101}
        train_and_export(repo, DEFAULT_MODEL, x, y, training, metadata)
    triton = services.triton.client()  # its model-control calls carry the admin key
    triton.load_model(DEFAULT_MODEL)  # picks up every exported version
    triton.close()
    versions = repo.versions(DEFAULT_MODEL)
    plan = Routing(
        ModelRef(DEFAULT_MODEL, str(versions[0])), (ModelRef(DEFAULT_MODEL, str(versions[-1])),)
    )
    state.write_sync(store, plan)
    store.close()
    return plan


def start_worker(
    config: ServicesSettings, metrics_port: int, engine: str
) -> subprocess.Popen[bytes]:
    settings = on_services(config, metrics_port=metrics_port, engine=engine, app_id=DEMO_GROUP)
    env = child_environment(settings)
    with open(config.state_dir / "demo-worker.log", "ab") as log:  # the child keeps its copy
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warn"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def skip_backlog(client: ClientSettings, group: str, topic: str) -> None:
    """Start the demo group at the end of the events topic: events left by earlier runs or
    other producers would otherwise be scored first and hide the live stream."""
    consumer = Consumer(client.kafka.librdkafka(**{"group.id": group, "enable.auto.commit": False}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = []
        for p in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends.append(TopicPartition(topic, p, high))
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def wait_until_assigned(
    client: ClientSettings, group: str, worker: subprocess.Popen[bytes]
) -> None:
    """Stream only once the worker holds partitions, so latency is not start-up time."""
    admin = AdminClient(client.kafka.librdkafka())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        try:
            group_info = admin.describe_consumer_groups([group])[group].result(5)
        except KafkaException:
            group_info = None
        if group_info is not None and any(
            m.assignment.topic_partitions for m in group_info.members
        ):
            return
        time.sleep(0.5)
    raise DemoError("the worker never took its partitions (see its log)")


def tail_consumer(client: ClientSettings) -> Consumer:
    """Reads the three output topics from their current ends on (no group offsets)."""
    topics = client.topics
    consumer = Consumer(
        client.kafka.librdkafka(**{"group.id": f"demo-{os.getpid()}", "enable.auto.commit": False})
    )
    assignment = []
    for topic in (topics.predictions, topics.shadow, topics.dlq):
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        for p in meta.partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assignment.append(TopicPartition(topic, p, high))
    consumer.assign(assignment)
    return consumer


def produce_stream(
    client: ClientSettings, simulator: sim.EventSimulator, count: int, rate: float
) -> None:
    # Outcomes arrive a second after their events, so the shadow report has labels to judge by.
    with (
        EventProducer(client, client.topics.events, validate=False) as producer,
        LabelProducer(client, client.topics.labels, validate=False) as labels,
    ):
        sim.run(
            simulator, producer.send, labels.send, count=count, pacer=sim.Pacer(rate),
            label_delay=int(rate),
        )  # fmt: skip
    # A client bug, as it would reach the topic: it must land in the DLQ, not stop scoring.
    raw = Producer(client.kafka.librdkafka())
    raw.produce(client.topics.events, key=b"broken-client", value=b"\xc3\x01not-a-fingerprint")
    raw.produce(
        client.topics.events,
        key=b"truncated",
        value=codec_for("event").encode(simulator.events().__next__().event)[:-7],
    )
    raw.flush(10)


def view(tally: Tally, plan: Routing, sent: int, wall_s: float) -> Group:
    n = len(tally.primary)
    lat = np.array(tally.latencies_ms[-20_000:]) if tally.latencies_ms else np.zeros(1)
    head = Table.grid(padding=(0, 2))
    head.add_row("primary", str(plan.primary), "shadow", ", ".join(map(str, plan.shadows)))
    stats = Table("sent", "scored", "scored/s", "p50 ms", "p99 ms", "shadow outputs", "DLQ")
    stats.add_row(
        str(sent), str(n), f"{n / max(wall_s, 1e-9):,.0f}", f"{np.percentile(lat, 50):.1f}",
        f"{np.percentile(lat, 99):.1f}", str(len(tally.shadow)), str(len(tally.dead)),
    )  # fmt: skip
    decisions = Table("decision", "share")
    for name in ("approve", "review", "decline"):
        decisions.add_row(name, f"{100 * tally.decisions.get(name, 0) / max(n, 1):.1f}%")
    both = tally.primary.keys() & tally.shadow.keys()
    agree = sum(tally.primary[e][1] == tally.shadow[e][1] for e in both)
    delta = np.mean([abs(tally.primary[e][0] - tally.shadow[e][0]) for e in both]) if both else 0.0
    shadow = Table("joined by event_id", "same decision", "mean |Δ score|")
    shadow.add_row(str(len(both)), f"{100 * agree / max(len(both), 1):.2f}%", f"{delta:.4f}")
    return Group(head, stats, decisions, shadow)


def run_demo(
    config: ServicesSettings,
    client: ClientSettings,
    rate: float,
    seconds: float,
    seed: int,
    engine: str,
) -> int:
    entities = 2000
    plan = prepare(config, entities, seed)
    count = int(rate * seconds)
    drift_at = count // 2
    console.print(
        f"streaming {count} events at {rate:.0f}/s; merchant_risk drifts from event {drift_at}; "
        f"worker log: {config.state_dir / 'demo-worker.log'}"
    )
    skip_backlog(client, DEMO_GROUP, client.topics.events)
    worker = start_worker(config, metrics_port=9100, engine=engine)
    wait_until_assigned(client, DEMO_GROUP, worker)
    # event_time is start + i / rate: start the clock when the stream starts.
    drift = sim.Drift("merchant_risk", drift_at, "abrupt", 1, 1.0)
    simulator = sim.EventSimulator(seed, entities, drift, datetime.now(UTC), rate)
    consumer = tail_consumer(client)
    prediction_codec = codec_for("prediction")
    tally = Tally()
    sender = threading.Thread(
        target=produce_stream, args=(client, simulator, count, rate), daemon=True
    )
    t0 = time.monotonic()
    sender.start()
    topics = client.topics
    try:
        with Live(view(tally, plan, 0, 0.0), console=console, refresh_per_second=4) as live:
            deadline = t0 + seconds + 60
            while time.monotonic() < deadline and (
                len(tally.primary) < count or len(tally.dead) < 2
            ):
                for msg in consumer.consume(1000, 0.25):
                    if msg.error() is not None:
                        continue
                    if msg.topic() == topics.dlq:
                        reason = dict(msg.headers() or []).get("error.reason") or b"?"
                        tally.dead.append(
                            bytes(reason, "utf-8") if isinstance(reason, str) else reason
                        )
                        continue
                    p = prediction_codec.decode(msg.value() or b"")
                    entry = (p["score"], p["decision"])
                    if msg.topic() == topics.shadow:
                        tally.shadow[p["event_id"]] = entry
                        continue
                    tally.primary[p["event_id"]] = entry
                    tally.decisions[p["decision"]] = tally.decisions.get(p["decision"], 0) + 1
                    tally.models.add(f"{p['model_name']}:{p['model_version']}")
                    tally.latencies_ms.append(
                        msg.timestamp()[1] - p["event_time"].timestamp() * 1000
                    )
                live.update(
                    view(
                        tally,
                        plan,
                        min(count, int((time.monotonic() - t0) * rate)),
                        time.monotonic() - t0,
                    )
                )
                if worker.poll() is not None:
                    console.print("[red]the worker exited; see its log[/red]")
                    return 1
    finally:
        consumer.close()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    ok = len(tally.primary) == count and len(tally.shadow) == count and len(tally.dead) == 2
    console.print(
        f"{'[green]done[/green]' if ok else '[red]incomplete[/red]'}: "
        f"{len(tally.primary)}/{count} scored "
        f"by {', '.join(sorted(tally.models))}, {len(tally.shadow)} shadow outputs, "
        f"DLQ reasons: {b', '.join(tally.dead).decode()}"
    )
    console.print(
        "read them yourself: "
        "streamscore consume predictions --from-beginning --limit 5 --format table"
    )
    console.print(
        "should the shadow replace the primary? "
        "streamscore report shadow --since 10m --out report/  (then open report/report.html)"
    )
    return 0 if ok else 1

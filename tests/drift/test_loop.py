"""The whole loop, unattended, on the real services: drift → one request → a new version
trained, gated, loaded, and scoring as a shadow, with no worker restarted; the retraining
worker's /metrics tell the same story (every step once, one accepted request, the version)
and carry every series of it that the Grafana dashboard reads."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from infra.settings import ServicesSettings
from schemas.codec import codec_for
from streams.retraining.metrics import STEPS, RetrainingMetrics
from streams.routing import ModelRef, Routing
from streams.simulation.simulator import Drift, entity_feature_rows
from tests.support.dashboard import dashboard_reads, exposed
from tests.support.drift import ENTITIES, RATE, read_records, send_events, simulator
from tests.support.kafka import consume, create_topics
from tests.support.models import export_model, set_routing
from tests.support.projects import FRAUD, fraud_codec
from tests.support.waiting import metric, wait_for

DASHBOARD = Path(__file__).resolve().parents[2] / "infra/grafana/dashboards/streamscore.json"
WINDOW = {"size_s": 5.0, "allowed_lateness_s": 1.0, "idle_close_s": 6.0}


def publish_entities(bootstrap: str, topic: str, at: datetime) -> None:
    """The simulated entities' features on the features topic, stamped ``at``: the workers
    apply them to Redis, and the retraining worker reads them back as of each event."""
    codec = fraud_codec("entity_features")
    producer = Producer({"bootstrap.servers": bootstrap})
    stamp = int(at.timestamp() * 1000)
    for entity_id, values in entity_feature_rows(FRAUD, 0, ENTITIES):
        record = {"entity_id": entity_id, **values}
        producer.produce(topic, key=entity_id.encode(), value=codec.encode(record), timestamp=stamp)
    assert producer.flush(30) == 0


def test_drift_ends_in_a_gated_shadow_without_a_restart(
    stack: ServicesSettings, start_worker: Any, start_agent: Any, start_retrainer: Any
) -> None:
    # A weak primary (little data, few epochs), so that a candidate has room to be better.
    model = export_model(stack, f"loop{uuid.uuid4().hex[:6]}", seed=7)
    set_routing(stack, Routing(ModelRef(model, "1")))
    worker = start_worker(engine="librdkafka", window=WINDOW)  # routed to the model above
    topics = worker.topics
    create_topics(stack.kafka_bootstrap, topics)
    start_agent(window=WINDOW, policy={"cooldown_s": 3600.0})
    retrainer = start_retrainer()  # the project's trainer and params (streamscore.yaml)
    n, onset = 50_000, 25_000
    start = datetime.now(UTC) - timedelta(seconds=onset / RATE)  # the shift lands about now
    publish_entities(stack.kafka_bootstrap, topics.features, start - timedelta(minutes=5))
    sim = simulator(Drift("merchant_risk", onset, unit="sigma", magnitude=1.0), start=start)
    send_events(stack.kafka_bootstrap, topics.events, sim, onset, labels_topic=topics.labels)
    drift_sent = time.monotonic()
    send_events(stack.kafka_bootstrap, topics.events, sim, n - onset, skip=onset,
                labels_topic=topics.labels)  # fmt: skip

    results: list[Any] = []

    def answered() -> bool:
        results[:] = read_records(
            stack.kafka_bootstrap, topics.retraining_results, "retraining_result", 1
        )
        return bool(results)

    wait_for(answered, 240, "a retraining result")
    assert [r["outcome"] for r in results] == ["accepted"], results
    version = results[0]["new_version"]
    shadow_codec = codec_for("prediction")

    def shadow_scores() -> bool:
        sent = consume(stack.kafka_bootstrap, topics.shadow, 10**9, 2)
        return any(shadow_codec.decode(m.value())["model_version"] == version for m in sent)

    # Events keep coming, as they would: the new version scores them as a shadow.
    more = simulator(Drift("merchant_risk", 0, unit="sigma"), seed=1, start=datetime.now(UTC))
    send_events(stack.kafka_bootstrap, topics.events, more, 2_000)
    wait_for(shadow_scores, 60, f"shadow outputs of {model}:{version}")
    print(f"\ndrift onset to the new shadow serving: {time.monotonic() - drift_sent:.0f} s")
    requests = read_records(stack.kafka_bootstrap, topics.retraining, "retraining_request")
    assert len(requests) == 1, requests
    assert worker.proc.poll() is None  # the same worker, never restarted
    accepted = 'streamscore_retraining_requests_total{outcome="accepted"}'
    # Counted once the result is acknowledged, which is when this test may first see it.
    wait_for(lambda: metric(retrainer.metrics(), accepted) == 1.0, 10, "the count")
    assert_retrainer_metrics(retrainer.metrics(), model, int(version))


def assert_retrainer_metrics(text: str, model: str, version: int) -> None:
    """The scraped /metrics of a retraining worker that accepted one request and is idle."""
    requests = "streamscore_retraining_requests_total"
    assert metric(text, f'{requests}{{outcome="rejected"}}') == 0.0
    assert metric(text, f'streamscore_retraining_last_version{{model="{model}"}}') == version
    assert metric(text, 'streamscore_retraining_state{state="idle"}') == 1.0
    assert metric(text, "streamscore_retraining_state{") == 1.0  # every other state is 0
    for step in STEPS:
        count = f'streamscore_retraining_step_seconds_count{{step="{step}"}}'
        assert metric(text, count) == 1.0, step
    found, reads = exposed(text), dashboard_reads(DASHBOARD)
    ours = {name for name in reads if name.startswith("streamscore_retraining_")}
    assert {n.removesuffix("_bucket") for n in ours} == set(RetrainingMetrics().exported())
    for name in ours:
        assert name in found and reads[name] - {"le"} <= found[name], name

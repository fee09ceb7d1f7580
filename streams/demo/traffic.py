"""The demo's world: its entities, its models, and the simulated traffic it streams.

Everything use-case specific comes from the project (its simulation: the generator, the
entity pool, the field the demo drifts): the demo runs any project that can be simulated.

- :func:`prepare` loads the simulator's entity features into Redis and publishes them on the
  `features` topic too (the retraining worker reads an event's features as of its time from
  there), makes sure a second version of the project's first model exists (training it with
  the project's trainer when missing), loads every version on Triton and routes: version 1
  decides, the newest runs as a shadow.
- :func:`traffic_args`: the stream, as `streamscore simulate` sends it (a process of the
  fleet): events and their labels at a steady rate, the project's drift field moving from a
  given event on; :func:`send_malformed` adds two malformed messages.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from infra.errors import StreamScoreError
from infra.settings import ServicesSettings
from schemas.project import Project
from streams.client import ClientSettings
from streams.client.errors import KAFKA_LOG
from streams.features.store import VectorLayout, load_sync
from streams.routing import ModelRef, Routing, state
from streams.simulation import simulator as sim
from streams.worker.settings import on_services

if TYPE_CHECKING:
    from streams.demo.run import DemoPlan

ENTITIES = 2000


def drift_field(project: Project) -> tuple[str, str, float]:
    """(field, unit, magnitude) of the drift the demo plays: the project's
    ``simulation.drift``; DemoError when it names none."""
    simulation = project.spec.simulation
    if simulation is None or simulation.drift is None:
        raise DemoError(
            f"project {project.name} has no simulation.drift: the demo needs a field to drift"
        )
    d = simulation.drift
    return d.field, d.unit, d.magnitude


class DemoError(StreamScoreError):
    """The demo could not run to its end; the message says what to look at."""


def prepare(
    config: ServicesSettings, client: ClientSettings, seed: int, say: object = print
) -> Routing:
    """Entity features in Redis and on the features topic; version 1 primary, the newest
    version a shadow, all loaded on Triton."""
    from inference.repository import ModelRepository
    from streams.retraining.serving import serving_config
    from streams.simulation.starter import train_version

    project = client.use_case()
    services = on_services(config)  # their addresses and credentials
    store = services.redis.client()
    table = list(sim.entity_feature_rows(project, seed, ENTITIES))
    names = project.feature_names
    load_sync(store, VectorLayout.of(project), [(e, [v[n] for n in names]) for e, v in table])
    # Stamped a minute back: the retraining worker looks an event's features up as of the
    # event's time (the record's Kafka timestamp), and these are what every event of this
    # run is scored with.
    stamp = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp() * 1000)
    codec = client.codec("entity_features")
    key = project.features.entity
    producer = Producer(client.kafka.librdkafka(logger=KAFKA_LOG))
    for entity_id, values in table:
        value = codec.encode({key: entity_id, **values})
        producer.produce(client.topics.features, value, entity_id.encode(), timestamp=stamp)
    if producer.flush(30) != 0:
        raise DemoError("the entity features were not acknowledged by Kafka in 30 s")
    repo = ModelRepository(config.model_repository)
    name = project.default_model.name
    if len(repo.versions(name)) < 2:
        say(f"training {name}:2, the first shadow, on fresh synthetic data")  # type: ignore[operator]
        train_version(project, repo, name, seed=101, rows=40_000,
                      serving=serving_config(services.triton))  # fmt: skip
    triton = services.triton.client()  # its model-control calls carry the admin key
    triton.load_model(name)  # picks up every exported version
    triton.close()
    versions = repo.versions(name)
    plan = Routing(ModelRef(name, str(versions[0])), (ModelRef(name, str(versions[-1])),))
    state.write_sync(store, state.routing_key(project.name), plan)
    store.close()
    return plan


def skip_backlog(client: ClientSettings, group: str, topic: str) -> None:
    """Start ``group`` at the end of the events topic: events left by earlier runs or other
    producers would otherwise be scored first and hide the live stream."""
    conf = {"group.id": group, "enable.auto.commit": False, "logger": KAFKA_LOG}
    consumer = Consumer(client.kafka.librdkafka(**conf))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = []
        for p in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends.append(TopicPartition(topic, p, high))
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def assigned(client: ClientSettings, group: str) -> bool:
    """Whether a member of ``group`` holds partitions (streaming before that would measure
    start-up time as latency)."""
    admin = AdminClient(client.kafka.librdkafka(logger=KAFKA_LOG))
    try:
        info = admin.describe_consumer_groups([group])[group].result(5)
    except KafkaException:
        return False
    return any(m.assignment.topic_partitions for m in info.members)


def traffic_args(plan: DemoPlan, count: int, project: Project) -> list[str]:
    """`streamscore simulate` arguments of the demo's stream: ``count`` events (the demo
    stops it sooner), their labels a second later, the project's drift field shifted from
    ``plan.drift_at_s`` on."""
    field, unit, magnitude = drift_field(project)
    return [
        "simulate", "--rate", f"{plan.rate:g}", "--count", str(count),
        "--seed", str(plan.seed), "--entities", str(ENTITIES),
        "--label-delay", str(int(plan.rate)),  # outcomes come a second after their events
        "--drift-at", str(int(plan.rate * plan.drift_at_s)), "--drift-feature", field,
        "--drift-unit", unit, "--drift-magnitude", f"{magnitude:g}",
    ]  # fmt: skip


def send_malformed(client: ClientSettings, seed: int) -> None:
    """A client bug, as it would reach the topic: they must land in the dead-letter topic
    with their cause, and not stop scoring."""
    raw = Producer(client.kafka.librdkafka(logger=KAFKA_LOG))
    topic = client.topics.events
    raw.produce(topic, key=b"broken-client", value=b"\xc3\x01not-a-fingerprint")
    event = next(sim.EventSimulator(client.use_case(), seed, ENTITIES).events()).event
    raw.produce(topic, key=b"truncated", value=client.codec("event").encode(event)[:-7])
    raw.flush(10)


class TopicCount:
    """Records put on a topic since this object was made (its partitions' end offsets)."""

    def __init__(self, client: ClientSettings, topic: str) -> None:
        conf = {"group.id": "streamscore-demo-counter", "logger": KAFKA_LOG}
        self.consumer = Consumer(client.kafka.librdkafka(**conf))
        meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
        self.partitions = [TopicPartition(topic, p) for p in meta.partitions]
        self.start = self._ends()
        self.last = 0

    def _ends(self) -> int:
        return sum(self.consumer.get_watermark_offsets(tp, timeout=5)[1] for tp in self.partitions)

    def count(self) -> int:
        with contextlib.suppress(KafkaException):  # the last count stands: the broker is busy
            self.last = self._ends() - self.start
        return self.last

    def close(self) -> None:
        self.consumer.close()

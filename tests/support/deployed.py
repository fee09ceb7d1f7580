"""The example projects on the test services, for tests that run over every one of them.

``project`` is a fixture parametrized over the examples (fraud: binary, torch MLP; delivery:
regression, ONNX, a categorical input, an attribute passed through). ``deployed`` puts the
test's project on the session's services: its models' version 1 in the test Triton (the
session Triton starts with the fraud example's only; the others are prepared and loaded
once per session, as `streamscore up --project` would), and its routing stored with the
first model as the primary. A :class:`Deployed` then makes what a test needs of that
project: entities with stored features, events of its simulator encoded with its schema,
and the exact model rows, outputs, decisions and attributes a worker must produce.

Import the fixtures into a conftest.py (``from tests.support.deployed import deployed,
project, served``) to use them there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Producer

from inference.repository import ModelRepository
from infra.settings import ServicesSettings
from schemas.codec import AvroCodec, codec_for
from schemas.project import FieldColumns, Project
from schemas.project.avro import base_kind, fields_of, kind_of
from streams.features.store import VectorLayout, load_sync
from streams.routing import ModelRef, Routing
from streams.simulation import simulator
from streams.simulation.starter import prepare, train_version
from tests.support.kafka import consume, produce
from tests.support.models import expected_scores, export_model, set_routing
from tests.support.projects import example, project_codec
from tests.support.waiting import wait_for

PROJECTS = ("fraud", "delivery")

# The fraud example's challenger is tests/support/models.py's (a torch MLP on other data);
# another project's is its own trainer's, on other simulated events.
FRAUD_CHALLENGER = "challenger"
CHALLENGER_SEED = 11


@pytest.fixture(params=PROJECTS)
def project(request: pytest.FixtureRequest) -> Project:
    """Each example project in turn."""
    return example(request.param)


@pytest.fixture(scope="session")
def served(stack: ServicesSettings) -> Callable[[Project], None]:
    """``served(project)``: its models' version 1 exist in the test repository and are
    loaded on Triton (once per project and session)."""
    done: set[str] = set()

    def serve(project: Project) -> None:
        if project.name in done:
            return
        prepare(project, ModelRepository(stack.model_repository))
        _load(stack, [m.name for m in project.spec.models])
        done.add(project.name)

    return serve


def _load(stack: ServicesSettings, names: Sequence[str]) -> None:
    """Load each model on Triton unless its version 1 is ready already (a reload of a served
    model is left alone: other tests' versions of it stay as they are)."""
    client = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    try:
        for name in names:
            if not client.is_model_ready(name, "1"):
                client.load_model(name)
            wait_for(lambda n=name: client.is_model_ready(n, "1"), 60, f"{name}:1 on Triton")
    finally:
        client.close()


@pytest.fixture
def deployed(
    stack: ServicesSettings, project: Project, served: Callable[[Project], None]
) -> Iterator[Deployed]:
    """The test's project served, its first model the primary (version 1, no shadow)."""
    served(project)
    ready = Deployed(project, stack)
    ready.route(Routing(ModelRef(ready.model, "1")))
    yield ready
    ready.close()


@dataclass(frozen=True, slots=True)
class Stored:
    """Entities with stored features: their ids, and id → the vector the store holds."""

    ids: list[str]
    vectors: dict[str, np.ndarray]


class Deployed:
    """One project on the test services, and what tests make of it."""

    def __init__(self, project: Project, stack: ServicesSettings) -> None:
        self.project = project
        self.stack = stack
        self.layout = VectorLayout.of(project)
        self.model = project.default_model.name
        self.event_codec: AvroCodec = project_codec(project, "event")
        self._events = project.spec.events
        self._redis = redis.Redis(host=stack.host, port=stack.redis_port)
        self._kinds = {
            name: base_kind(kind_of(field["type"]))
            for name, field in fields_of(project.event_schema).items()
        }

    def close(self) -> None:
        self._redis.close()

    @property
    def path(self) -> str:
        """The project file, as `start_worker(project=...)` takes it."""
        return str(self.project.path)

    def route(self, routing: Routing) -> None:
        set_routing(self.stack, routing, project=self.project)

    def challenger(self) -> str:
        """A second model of the project, on other data, loaded on Triton (made once)."""
        if self.project.name == "fraud":
            return export_model(self.stack, FRAUD_CHALLENGER, seed=CHALLENGER_SEED)
        name = f"{self.model}-challenger"
        repo = ModelRepository(self.stack.model_repository)
        if not repo.versions(name):
            train_version(self.project, repo, name, seed=CHALLENGER_SEED, rows=5_000)
        _load(self.stack, [name])
        return name

    # -- entities and events -------------------------------------------------------------
    def entities(self, n: int = 50, seed: int = 5, **load: Any) -> Stored:
        """``n`` fresh entities (ids of this test only) with the features the project's
        simulator gives its entities, stored (``load``: :func:`load_sync`'s options, e.g.
        ``updated_at_ms``)."""
        stored = self.vectors(n, seed)
        load_sync(self._redis, self.layout, stored.vectors.items(), **load)
        return stored

    def vectors(self, n: int = 50, seed: int = 5) -> Stored:
        """Like :meth:`entities`, not stored."""
        prefix = f"t{uuid.uuid4().hex[:8]}-"
        names = self.project.feature_names
        vectors = {
            prefix + entity: np.array([values[f] for f in names], dtype=np.float32)
            for entity, values in simulator.entity_feature_rows(self.project, seed, n)
        }
        return Stored(list(vectors), vectors)

    def events(self, n: int, seed: int, entities: Sequence[str]) -> list[dict[str, Any]]:
        """The first ``n`` events of the project's simulator (``seed``) over ``entities``,
        stamped now, with ids of their own."""
        sim = simulator.EventSimulator(
            self.project, seed=seed, entities=len(entities), start=datetime.now(UTC)
        )
        ids = dict(zip(simulator.entity_ids(self.project, len(entities)), entities, strict=True))
        out = []
        for item in islice(sim.events(), n):
            event = dict(item.event)
            event[self._events.entity] = ids[event[self._events.entity]]
            event[self._events.id] = str(uuid.uuid4())
            out.append(event)
        return out

    def entity_of(self, event: Mapping[str, Any]) -> str:
        return str(event[self._events.entity])

    def id_of(self, event: Mapping[str, Any]) -> str:
        return str(event[self._events.id])

    def encoded(self, events: Sequence[Mapping[str, Any]]) -> list[tuple[bytes, bytes]]:
        """(key, value) per event, as a producer of the project writes them."""
        return [(self.entity_of(e).encode(), self.event_codec.encode(e)) for e in events]

    def produce(self, topic: str, events: Sequence[Mapping[str, Any]]) -> None:
        produce(self.stack.kafka_bootstrap, topic, self.encoded(events))

    # -- the project's simulation, as `simulate` and `features load-simulated` give it ---
    def load_simulated(self, entities: int, seed: int = 0) -> None:
        """The simulator's entities (its own ids) with their features, stored now."""
        names = self.project.feature_names
        rows = [
            (entity, [values[f] for f in names])
            for entity, values in simulator.entity_feature_rows(self.project, seed, entities)
        ]
        load_sync(self._redis, self.layout, rows)

    def send_simulated(
        self, topic: str, sim: simulator.EventSimulator, count: int, labels_topic: str | None = None
    ) -> None:
        """The first ``count`` events of ``sim`` (and their labels), flushed."""
        labels = project_codec(self.project, "label")
        # Idempotent, so that a retried request cannot reorder a partition's event times.
        producer = Producer(
            {"bootstrap.servers": self.stack.kafka_bootstrap, "linger.ms": 20,
             "enable.idempotence": True}
        )  # fmt: skip
        for item in islice(sim.events(), count):
            key = self.entity_of(item.event).encode()
            producer.produce(topic, key=key, value=self.event_codec.encode(item.event))
            if labels_topic is not None:
                label = item.label(item.event[self._events.time], self.project)
                producer.produce(labels_topic, key=key, value=labels.encode(label))
            producer.poll(0)
        assert producer.flush(30) == 0

    # -- what a worker must say ----------------------------------------------------------
    def rows(
        self, events: Sequence[Mapping[str, Any]], vectors: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """The model rows of ``events`` (the project's input layout) with each entity's
        features taken from ``vectors`` (the defaults where an entity has none)."""
        layout = self.project.layout
        fields = FieldColumns.of_records(events, layout.number_fields, layout.text_fields)
        defaults = self.project.feature_defaults
        features = np.stack([vectors.get(self.entity_of(e), defaults) for e in events])
        return layout.matrix(fields, features.astype(np.float32))

    def outputs(self, model: str, rows: np.ndarray, version: int = 1) -> np.ndarray:
        """What the exported file of ``model`` gives for ``rows``, as (rows, columns)."""
        return self.project.decider(model).outputs(
            expected_scores(self.stack, model, version, rows)
        )

    def attributes(self, event: Mapping[str, Any]) -> dict[str, str]:
        """The attributes a prediction of ``event`` carries: the project's fields, as text."""
        out = {}
        for name in self._events.attributes:
            value = event.get(name)
            if value is None:
                continue
            kind = self._kinds[name]
            if kind == "boolean":
                out[name] = "true" if value else "false"
            elif kind in ("int", "long"):
                out[name] = str(int(value))
            elif kind in ("float", "double"):
                out[name] = repr(float(value))
            else:
                out[name] = str(value)
        return out

    def check(
        self,
        predictions: Sequence[Mapping[str, Any]],
        events: Sequence[Mapping[str, Any]],
        vectors: Mapping[str, np.ndarray],
        model: str | None = None,
        *,
        missing: bool = False,
        stale: bool = False,
    ) -> None:
        """Each prediction is its event's, by ``model`` version 1: the outputs of the exported
        file on the event's row (entity features from ``vectors``), the score and decision of
        the model's decider on them, the event's attributes, and the flags given."""
        model = model or self.model
        decider = self.project.decider(model)
        by_id = {self.id_of(e): i for i, e in enumerate(events)}
        assert sorted(p["event_id"] for p in predictions) == sorted(by_id)
        want = self.outputs(model, self.rows(events, vectors))
        got = np.zeros_like(want)
        for p in predictions:
            i = by_id[p["event_id"]]
            got[i] = p["outputs"]
            event = events[i]
            assert (p["model_name"], p["model_version"]) == (model, "1")
            assert p["entity_id"] == self.entity_of(event)
            assert p["attributes"] == self.attributes(event)
            assert (p["features_missing"], p["features_stale"]) == (missing, stale), p
            outputs = np.array([p["outputs"]])
            assert p["score"] == decider.scores(outputs)[0]
            assert p["decision"] == decider.names_of(decider.decide(outputs))[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def read_records(bootstrap: str, topic: str, schema: str, timeout_s: float = 5.0) -> list[Any]:
    """Every record of a bundled schema on ``topic`` so far, decoded (logical types as plain
    numbers)."""
    codec = codec_for(schema, logical_types=False)
    return [codec.decode(m.value()) for m in consume(bootstrap, topic, 10**9, timeout_s)]

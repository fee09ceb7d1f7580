"""A project nobody shipped, scored end to end on the real Kafka, Redis and Triton.

The test writes a use case from scratch: its own Avro schema (a categorical field, a boolean,
a string passed through as an attribute, an optional field the events leave out), its own
feature view, and a 3-class ONNX model it builds with onnx's helper (weights chosen so that
every event's class is known). It adds the model as version 1 the way `streamscore up`
does, starts a real worker with ``--project``, and checks that every prediction carries the
right class, its three probabilities and the attribute.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import redis
import tritonclient.grpc as grpcclient
from onnx import TensorProto, helper

from inference.repository import ModelRepository
from infra.settings import ServicesSettings
from schemas.project import Project, load_project
from streams.features.store import VectorLayout, load_sync
from streams.routing import ModelRef, Routing
from streams.simulation.starter import prepare
from tests.support.kafka import predictions, produce
from tests.support.models import set_routing
from tests.support.projects import project_codec

TIERS = ("gold", "silver", "bronze")
CLASSES = ("stay", "maybe", "leave")

SCHEMA = {
    "type": "record",
    "name": "Visit",
    "namespace": "test.byo",
    "fields": [
        {"name": "visit_id", "type": "string"},
        {"name": "shopper", "type": "string"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tier", "type": "string"},
        {"name": "is_weekend", "type": "boolean"},
        {"name": "basket", "type": "double"},
        {"name": "ticket", "type": "string"},
        {"name": "discount", "type": ["null", "double"], "default": None},
    ],
}

PROJECT = """\
name: byo-{suffix}
events:
  topic: visits
  schema: visit.avsc
  id: visit_id
  entity: shopper
  time: at
  attributes: [ticket]
features:
  name: shopper
  entity: shopper
  ttl: 1h
  features:
    - {{name: visits_30d, default: 1.0}}
    - {{name: spend_avg, default: 20.0}}
inputs:
  - {{name: tier, from: event, type: categorical, vocabulary: [gold, silver, bronze],
     unknown: other, default: bronze}}
  - {{name: is_weekend, from: event, type: boolean, default: false}}
  - {{name: basket, from: event, default: 0.0}}
  - {{name: discount, from: event, default: 0.0}}
  - {{name: visits_30d, from: feature}}
  - {{name: spend_avg, from: feature}}
models:
  - name: churn3-{suffix}
    task: multiclass
    classes: [stay, maybe, leave]
    source: model.onnx
    input: {{name: x}}
    output: {{name: probs, dims: [3]}}
labels: {{topic: churned, field: outcome, type: string}}
retraining: {{trainer: "inference.training:train"}}
"""

# Columns: tier=gold, tier=silver, tier=bronze, tier=other, is_weekend, basket, discount,
# visits_30d, spend_avg. The logits make the class the tier's: gold stays, silver maybe,
# bronze leaves; the weekend, the basket and the features move the probabilities a little.
WEIGHTS = np.array(
    [
        [4.0, 0.0, 0.0],
        [0.0, 4.0, 0.0],
        [0.0, 0.0, 4.0],
        [0.0, 0.0, 0.0],
        [0.3, 0.0, -0.3],
        [0.01, 0.0, -0.01],
        [0.0, 0.0, 0.0],
        [0.05, 0.0, -0.05],
        [0.0, 0.01, 0.0],
    ],
    dtype=np.float32,
)


def three_class_model(path: Path) -> None:
    """softmax(x @ W): a 3-class model in ONNX, made here."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        ],
        "three-class",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, WEIGHTS.shape[0]])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor("W", TensorProto.FLOAT, WEIGHTS.shape, WEIGHTS.ravel().tolist())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def write_project(folder: Path) -> Project:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "visit.avsc").write_text(json.dumps(SCHEMA))
    three_class_model(folder / "model.onnx")
    (folder / "streamscore.yaml").write_text(PROJECT.format(suffix=uuid.uuid4().hex[:6]))
    return load_project(folder)


def softmax_rows(rows: np.ndarray) -> np.ndarray:
    logits = rows.astype(np.float64) @ WEIGHTS.astype(np.float64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_a_project_nobody_shipped_scores_end_to_end(
    stack: ServicesSettings, start_worker: Any, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "byo")
    name = project.default_model.name
    assert project.layout.columns[:4] == tuple(f"tier={t}" for t in (*TIERS, "other"))

    # Version 1 from the model file, as `up` makes it; loaded on the running Triton.
    repo = ModelRepository(stack.model_repository)
    assert prepare(project, repo) == [(name, 1)]
    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    triton.load_model(name)
    assert triton.is_model_ready(name, "1")
    triton.close()
    set_routing(stack, Routing(ModelRef(name, "1")), project=project)

    # The feature view's vectors for three shoppers; a fourth is unknown (its defaults).
    shoppers = [f"shopper-{i}" for i in range(3)]
    vectors = {s: np.array([5.0 + i, 30.0 + 10 * i], dtype=np.float32)
               for i, s in enumerate(shoppers)}  # fmt: skip
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    load_sync(client, VectorLayout.of(project), vectors.items())
    client.close()

    worker = start_worker(project=str(project.path))
    topics = worker.topics
    rng = np.random.default_rng(3)
    events: list[dict[str, Any]] = []
    for i in range(60):
        events.append({
            "visit_id": f"v-{i}",
            "shopper": [*shoppers, "shopper-unknown"][i % 4],
            "at": datetime.now(UTC),
            "tier": (*TIERS, "platinum")[i % 4],  # platinum: the unknown bucket
            "is_weekend": bool(i % 2),
            "basket": float(np.round(rng.uniform(5, 200), 2)),
            "ticket": f"T-{1000 + i}",
            # discount left out: the optional field takes the input's default
        })  # fmt: skip
    codec = project_codec(project, "event")
    produce(stack.kafka_bootstrap, topics.events,
            [(e["shopper"].encode(), codec.encode(e)) for e in events])  # fmt: skip

    out = {p["event_id"]: p for p in predictions(stack.kafka_bootstrap, topics.predictions, 60)}
    assert sorted(out) == sorted(e["visit_id"] for e in events)

    # What the model must have seen, built by hand from the columns above.
    rows = []
    for e in events:
        tier = [float(e["tier"] == t) for t in TIERS] + [float(e["tier"] not in TIERS)]
        vector = vectors.get(e["shopper"], np.array([1.0, 20.0], dtype=np.float32))
        rows.append([*tier, float(e["is_weekend"]), e["basket"], 0.0, *vector.tolist()])
    want = softmax_rows(np.asarray(rows, dtype=np.float32))
    for event, probs in zip(events, want, strict=True):
        p = out[event["visit_id"]]
        assert p["model_name"] == name and p["model_version"] == "1"
        np.testing.assert_allclose(p["outputs"], probs, rtol=1e-5, atol=1e-6)
        assert p["decision"] == CLASSES[int(np.argmax(probs))]
        assert p["score"] == max(p["outputs"])
        assert p["attributes"] == {"ticket": event["ticket"]}
        assert p["features_missing"] is (event["shopper"] == "shopper-unknown")
        assert p["features_stale"] is False
    # The tier decides the class of the known tiers: gold stays, silver maybe, bronze leaves.
    decided = {e["tier"]: out[e["visit_id"]]["decision"] for e in events}
    assert (decided["gold"], decided["silver"], decided["bronze"]) == CLASSES

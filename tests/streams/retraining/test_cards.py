"""Model cards against the real Kafka, Redis and Triton: one retraining, its card, the
version trained again from the card, and a corrupt card refused.

One module-scoped setup: a parent version, features, events and labels on topics of their
own, one request answered by the worker in a thread. Then more events and labels land in
the same event-time range, so that reading the range by time again would differ: the
reproduction reads the card's offsets, and must give the same metrics to the last bit.
The gate is loosened (small set, no margins): this module tests lineage, not the gate.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import tritonclient.grpc as grpcclient
import typer
from typer.testing import CliRunner

from inference import card as cards
from inference.gate import GateConfig
from inference.repository import ModelRepository
from infra.settings import ServicesSettings
from streams.cli.cards import register_cards
from streams.retraining import serving
from streams.retraining.reproduce import reproduce
from streams.retraining.settings import RetrainingSettings
from streams.routing import ModelRef, Routing, RoutingError
from streams.routing.catalog import ready_ref
from streams.routing.state import routing_key
from streams.simulation.simulator import EventSimulator, entity_feature_rows
from tests.support.kafka import consume
from tests.support.models import export_model, set_routing
from tests.support.projects import FRAUD
from tests.support.retraining import (
    CODECS,
    EPOCHS,
    encoded,
    ms,
    produce,
    retraining_settings,
    running,
)

N_EVENTS = 3000
ENTITIES = 300
LOOSE_GATE = GateConfig(
    min_labels=500, min_positives=10, logloss_margin=10.0, auc_margin=1.0, min_auc=0.0,
    max_calibration_error=1.0,
)  # fmt: skip
ROUTING_KEY = routing_key(FRAUD.name)  # the routing of the project the worker reads


@dataclass(frozen=True)
class Trained:
    settings: RetrainingSettings
    model: str
    request: dict[str, Any]
    result: dict[str, Any]
    labels: list[dict[str, Any]]
    features: int


def _events(
    settings: RetrainingSettings, seed: int, start: datetime, n: int
) -> list[dict[str, Any]]:
    """``n`` events from ``start``, about 0.7 ms apart (many share a millisecond: the rows'
    order must not depend on how the partitions interleave), and their labels."""
    sim = EventSimulator(FRAUD, seed, ENTITIES, start=start, rate=1500)
    items = list(itertools.islice(sim.events(), n))
    produce(
        settings, settings.topics.events, encoded("event", [i.event for i in items], "entity_id")
    )
    labels = [i.label(i.event["event_time"] + timedelta(seconds=30), FRAUD) for i in items]
    produce(settings, settings.topics.labels, encoded("label", labels, "entity_id"))
    return labels


@pytest.fixture(scope="module")
def trained(stack: ServicesSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    folder = tmp_path_factory.mktemp("cards") / "project"
    settings = retraining_settings(stack, folder).model_copy(update={"gate": LOOSE_GATE})
    model = export_model(stack, f"carded-{uuid.uuid4().hex[:6]}", seed=21)
    before = ms(datetime.now(UTC) - timedelta(hours=1))
    rows = [{"entity_id": e, **v} for e, v in entity_feature_rows(FRAUD, 5, ENTITIES)]
    produce(
        settings, settings.topics.features, encoded("entity_features", rows, "entity_id"), before
    )
    start = (datetime.now(UTC) - timedelta(minutes=40)).replace(microsecond=0)
    labels = _events(settings, 5, start, N_EVENTS)
    request = {
        "request_id": str(uuid.uuid4()), "model_name": model, "reason": "cards",
        "requested_by": "pytest", "alert_ids": ["alert-1", "alert-2"],
        "requested_at": datetime.now(UTC).replace(microsecond=0),
        "from_time": start, "to_time": start + timedelta(minutes=5),
    }  # fmt: skip
    store = redis.Redis(host=stack.host, port=stack.redis_port)
    saved = store.get(ROUTING_KEY)
    try:
        set_routing(stack, Routing(ModelRef(model, "1")))
        with running(settings):
            produce(
                settings,
                settings.topics.retraining,
                encoded("retraining_request", [request], "model_name"),
            )
            [message] = consume(settings.kafka.bootstrap, settings.topics.retraining_results, 1, 90)
        result = CODECS["retraining_result"].decode(message.value())
        assert result["outcome"] == "accepted", result["reasons"]
        # Later arrivals in the same event-time range: not in the card's offsets.
        _events(settings, 6, start + timedelta(seconds=1), 500)
        yield Trained(settings, model, request, result, labels, len(rows))
    finally:
        if saved is None:
            store.delete(ROUTING_KEY)
        else:
            store.set(ROUTING_KEY, saved)
        store.close()


def test_the_card_holds_the_range_rows_parent_and_request(trained: Trained) -> None:
    settings, request, result = trained.settings, trained.request, trained.result
    card = ModelRepository(settings.model_repository).card(trained.model, 2)
    source = card.source
    assert isinstance(source, cards.TopicsSource)
    assert (source.from_ms, source.to_ms) == (ms(request["from_time"]), ms(request["to_time"]))
    topics = settings.topics
    assert [(r.role, r.topic) for r in source.topics] == [
        ("events", topics.events), ("labels", topics.labels), ("features", topics.features)
    ]  # fmt: skip
    read = {r.role: sum(p.end - p.start for p in r.partitions) for r in source.topics}
    # Every record there was when reading began; none of the later ones.
    assert read == {"events": N_EVENTS, "labels": N_EVENTS, "features": trained.features}
    assert all(p.start == 0 for r in source.topics for p in r.partitions)
    assert [p.partition for p in source.topics[0].partitions] == [0, 1, 2, 3]
    assert card.dataset.rows == N_EVENTS == result["metrics"]["rows"]
    assert card.dataset.positives == sum(label["label"] for label in trained.labels)
    assert card.dataset.stats["events_in_range"] == N_EVENTS
    assert card.metrics == result["metrics"]  # every metric the result reports, unrounded
    assert card.gate is not None and card.gate.accepted and card.gate.reasons == []
    assert card.gate.config["min_labels"] == 500
    # the decisions the golden-set and segment gates took: the project's, as the workers'
    assert card.gate.decisions == {"names": ["approve", "review", "decline"], "bounds": [0.3, 0.7]}
    assert card.parent == f"{trained.model}:1"
    assert card.request == cards.Request(
        request_id=request["request_id"],
        reason="cards",
        requested_by="pytest",
        alert_ids=["alert-1", "alert-2"],
        requested_at=ms(request["requested_at"]),
    )
    project = settings.use_case()
    assert isinstance(card.training, cards.Training)  # a version 2 card
    assert card.training.trainer == project.spec.retraining.trainer == "trainer:train"
    assert (card.training.seed, card.training.params["epochs"]) == (0, EPOCHS)
    assert card.training.params == project.spec.retraining.params
    assert card.training.holdout_share == settings.training.holdout_share
    assert card.feature_layout == project.layout.hash == FRAUD.layout.hash
    assert card.project == cards.ProjectRef(name="fraud", sha256=project.sha256)
    assert card.code == cards.code_version()
    assert card.created_at <= ms(result["finished_at"])


def test_the_version_reproduces_from_its_card_exactly(trained: Trained) -> None:
    ref = ModelRef(trained.model, "2")
    again = reproduce(trained.settings, ref, tolerance=0.0)
    assert again.differing == []  # bit for bit, although the range has grown since
    assert {c.metric for c in again.comparisons} >= {"rows", "candidate_auc", "final_loss"}
    assert again.accepted
    # The command: the card's metrics beside the reproduced ones, exit 0.
    app, models = typer.Typer(), typer.Typer()
    register_cards(models)
    app.add_typer(models, name="models")
    run = CliRunner().invoke(
        app, ["models", "reproduce", str(ref)], env=trained.settings.environment()
    )
    assert run.exit_code == 0, run.output
    assert f"{ref} reproduced: {len(again.comparisons)} metrics within 1e-06" in run.output
    assert "candidate_auc" in run.output and " NO " not in run.output


def test_a_corrupt_card_refuses_to_load(trained: Trained, stack: ServicesSettings) -> None:
    repo = ModelRepository(trained.settings.model_repository)
    path = repo.folder(trained.model, 2) / "card.json"
    good = path.read_text()
    path.write_text(good.replace('"parent": ', '"parent": 7, "was": '))
    ref = ModelRef(trained.model, "2")
    expected = (
        f"{ref} refuses to load: its card {path} does not parse: field 'parent': "
        "Input should be a valid string (and 1 more)"
    )
    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)
    try:
        with pytest.raises(RoutingError) as routed:
            ready_ref(triton, str(ref), repo)
        assert str(routed.value) == expected
        with pytest.raises(serving.CardRefusedError) as loaded:
            serving.ensure_ready(triton, ref, 5.0, repo)
        assert str(loaded.value) == expected
        assert ready_ref(triton, f"{trained.model}:1", repo) == ModelRef(trained.model, "1")
    finally:
        triton.close()
        path.write_text(good)

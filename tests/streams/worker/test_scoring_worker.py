"""The scoring worker end to end, against the real Kafka, Redis and Triton.

Each test starts real `streamscore worker` processes (tests/conftest.py::start_worker, once
per engine) on its own topics, for each example project (tests/support/deployed.py: fraud,
a binary torch model; delivery, a regression ONNX model with a categorical input and an
attribute), produces the project's Avro events, and reads what comes out.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
import tritonclient.grpc as grpcclient

from infra.settings import ServicesSettings
from streams.routing import ModelRef, Routing
from tests.support.deployed import Deployed
from tests.support.kafka import consume, group_sizes, predictions, produce
from tests.support.waiting import metric, wait_for


def test_every_event_gets_one_primary_and_one_shadow_output_with_the_models_scores(
    stack: ServicesSettings, start_worker: Any, deployed: Deployed
) -> None:
    challenger = deployed.challenger()
    primary_model = deployed.model
    deployed.route(Routing(ModelRef(primary_model, "1"), (ModelRef(challenger, "1"),)))
    stored = deployed.entities()
    worker = start_worker(project=deployed.path)
    topics = worker.topics
    events = deployed.events(300, seed=1, entities=stored.ids)
    deployed.produce(topics.events, events)

    primary = predictions(stack.kafka_bootstrap, topics.predictions, 300)
    shadow = predictions(stack.kafka_bootstrap, topics.shadow, 300)
    sent = {deployed.id_of(e) for e in events}
    assert sorted(p["event_id"] for p in primary) == sorted(sent)
    assert sorted(p["event_id"] for p in shadow) == sorted(sent)
    # Each output is its model's on the event's row, decided by the model's decider, with
    # the event's attributes; every entity's features were found, fresh.
    deployed.check(primary, events, stored.vectors, primary_model)
    deployed.check(shadow, events, stored.vectors, challenger)
    assert {p["role"] for p in primary} == {"primary"}
    assert {p["role"] for p in shadow} == {"shadow"}

    # The live comparison counted every event once, with the figures of the outputs.
    by_event = {p["event_id"]: p for p in primary}
    pairs = [(by_event[s["event_id"]], s) for s in shadow]
    differ = sum(p["decision"] != s["decision"] for p, s in pairs)
    delta = sum(abs(s["score"] - p["score"]) for p, s in pairs)
    text = worker.metrics()
    model = f'{{model="{challenger}:1"}}'
    compared = metric(text, f"streamscore_shadow_compared_total{model}")
    assert compared == 300
    assert metric(text, f"streamscore_shadow_disagreements_total{model}") == differ <= compared
    assert metric(text, f"streamscore_shadow_score_delta_total{model}") == pytest.approx(delta)
    assert delta > 0  # two different models: the check above can fail


def test_one_redis_mget_and_one_triton_request_per_model_per_batch(
    stack: ServicesSettings, start_worker: Any, deployed: Deployed
) -> None:
    challenger = deployed.challenger()
    primary_model = deployed.model
    deployed.route(Routing(ModelRef(primary_model, "1"), (ModelRef(challenger, "1"),)))
    ids = deployed.entities().ids
    worker = start_worker(project=deployed.path)
    store = redis.Redis(host=stack.host, port=stack.redis_port)
    triton = grpcclient.InferenceServerClient(stack.triton_grpc_url)

    def counts() -> tuple[int, int, int]:
        mgets = int(store.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))
        requests = [
            int(
                triton.get_inference_statistics(name, "1", as_json=True)["model_stats"][0][
                    "inference_stats"
                ]["success"].get("count", 0)
            )
            for name in (primary_model, challenger)
        ]
        return mgets, requests[0], requests[1]

    # One event first: a worker warms each model and the feature store once as it starts
    # scoring (streams/worker/runtime.py), which is not per batch.
    deployed.produce(worker.topics.events, deployed.events(1, seed=11, entities=ids))

    def outputs() -> float:
        try:
            return metric(worker.metrics(), "streamscore_events_out_total{")
        except OSError:
            return 0.0  # not serving /metrics yet

    wait_for(lambda: outputs() >= 2, 60, "the first event's two outputs")
    before = counts()
    batches_before = metric(worker.metrics(), "streamscore_batch_size_count")
    deployed.produce(worker.topics.events, deployed.events(2000, seed=12, entities=ids))
    assert len(predictions(stack.kafka_bootstrap, worker.topics.predictions, 2001)) == 2001
    wait_for(lambda: outputs() >= 4002, 30, "outputs")
    batches = metric(worker.metrics(), "streamscore_batch_size_count") - batches_before
    mgets, primary, shadow = (a - b for a, b in zip(counts(), before, strict=True))
    store.close()
    triton.close()
    assert 1 <= batches < 2000  # events were batched
    assert (mgets, primary, shadow) == (batches, batches, batches)


def test_bad_bytes_go_to_the_dlq_with_their_cause_and_the_rest_is_scored(
    stack: ServicesSettings, start_worker: Any, deployed: Deployed
) -> None:
    stored = deployed.entities()
    worker = start_worker(project=deployed.path)
    topics = worker.topics
    events = deployed.events(40, seed=2, entities=stored.ids)
    good = deployed.encoded(events)
    truncated = good[0][1][:-5]
    produce(stack.kafka_bootstrap, topics.events, good[:20])
    produce(stack.kafka_bootstrap, topics.events, [(b"garbage", b"\x00\x01not avro")], partition=3)
    produce(stack.kafka_bootstrap, topics.events, [(b"truncated", truncated)], partition=1)
    produce(stack.kafka_bootstrap, topics.events, good[20:])

    scored = predictions(stack.kafka_bootstrap, topics.predictions, 40)
    assert sorted(p["event_id"] for p in scored) == sorted(deployed.id_of(e) for e in events)
    deployed.check(scored, events, stored.vectors)
    dead = consume(stack.kafka_bootstrap, topics.dlq, 2)
    by_key = {m.key(): (m.value(), dict(m.headers())) for m in dead}
    assert set(by_key) == {b"garbage", b"truncated"}
    assert by_key[b"garbage"][0] == b"\x00\x01not avro"  # original bytes kept
    assert by_key[b"truncated"][0] == truncated
    assert by_key[b"truncated"][1]["error.reason"] == b"truncated"
    assert by_key[b"garbage"][1]["error.class"] == b"DecodeError"
    assert by_key[b"garbage"][1]["source.partition"] == b"3"
    assert by_key[b"truncated"][1]["source.partition"] == b"1"
    for _value, headers in by_key.values():
        assert headers["source.topic"] == topics.events.encode()
        assert int(headers["source.offset"]) >= 0 and headers["error.message"]
    text = worker.metrics()
    assert metric(text, 'streamscore_dlq_total{reason="truncated"}') == 1


def test_two_workers_share_the_partitions(
    stack: ServicesSettings, start_worker: Any, deployed: Deployed
) -> None:
    ids = deployed.entities().ids
    first = start_worker(project=deployed.path)
    second = start_worker(project=deployed.path)
    topics = first.topics
    group = first.settings.app_id
    wait_for(
        lambda: group_sizes(stack.kafka_bootstrap, group, topics.events) == [2, 2],
        60,
        "two members with two partitions each",
    )
    events = deployed.events(400, seed=10, entities=ids)
    deployed.produce(topics.events, events)
    scored = predictions(stack.kafka_bootstrap, topics.predictions, 400)
    assert {p["event_id"] for p in scored} == {deployed.id_of(e) for e in events}
    wait_for(
        lambda: (
            metric(first.metrics(), "streamscore_events_in_total") > 0
            and metric(second.metrics(), "streamscore_events_in_total") > 0
        ),
        30,
        "both workers to take events",
    )

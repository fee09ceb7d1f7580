"""The scoring worker end to end, against the real Kafka, Redis and Triton.

Each test starts real `streamscore worker` processes (tests/conftest.py::start_worker, once
per engine) on its own topics, produces Avro events, and reads what comes out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient

from inference.repository import DEFAULT_MODEL
from infra.settings import ServicesSettings
from streams.routing import ModelRef, Routing
from tests.support.events import Entities, full_rows, make_events
from tests.support.kafka import (
    EVENT_CODEC,
    consume,
    group_sizes,
    predictions,
    produce,
    produce_events,
)
from tests.support.models import expected_scores, set_routing
from tests.support.waiting import metric, wait_for


def test_every_event_gets_one_primary_and_one_shadow_output_with_the_models_scores(
    stack: ServicesSettings, start_worker: Any, challenger: str, entities: Entities
) -> None:
    ids, vectors = entities
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1"), (ModelRef(challenger, "1"),)))
    worker = start_worker()
    topics = worker.topics
    events, x = make_events(300, seed=1, entities=ids)
    produce_events(stack.kafka_bootstrap, topics.events, events)

    primary = predictions(stack.kafka_bootstrap, topics.predictions, 300)
    shadow = predictions(stack.kafka_bootstrap, topics.shadow, 300)
    sent = {e["event_id"]: i for i, e in enumerate(events)}
    assert sorted(p["event_id"] for p in primary) == sorted(sent)
    assert sorted(p["event_id"] for p in shadow) == sorted(sent)

    rows = full_rows(events, x, vectors)
    for outputs, model in ((primary, DEFAULT_MODEL), (shadow, challenger)):
        want = expected_scores(stack, model, 1, rows)
        got = np.zeros(300)
        for p in outputs:
            got[sent[p["event_id"]]] = p["score"]
            assert (p["model_name"], p["model_version"]) == (model, "1")
            assert p["features_missing"] is False
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)

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
    stack: ServicesSettings, start_worker: Any, challenger: str, entities: Entities
) -> None:
    ids, _ = entities
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1"), (ModelRef(challenger, "1"),)))
    worker = start_worker()
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
            for name in (DEFAULT_MODEL, challenger)
        ]
        return mgets, requests[0], requests[1]

    # One event first: a worker warms each model and the feature store once as it starts
    # scoring (streams/worker/runtime.py), which is not per batch.
    first, _ = make_events(1, seed=11, entities=ids)
    produce_events(stack.kafka_bootstrap, worker.topics.events, first)

    def outputs() -> float:
        try:
            return metric(worker.metrics(), "streamscore_events_out_total{")
        except OSError:
            return 0.0  # not serving /metrics yet

    wait_for(lambda: outputs() >= 2, 60, "the first event's two outputs")
    before = counts()
    batches_before = metric(worker.metrics(), "streamscore_batch_size_count")
    events, _ = make_events(2000, seed=12, entities=ids)
    produce_events(stack.kafka_bootstrap, worker.topics.events, events)
    assert len(predictions(stack.kafka_bootstrap, worker.topics.predictions, 2001)) == 2001
    wait_for(lambda: outputs() >= 4002, 30, "outputs")
    batches = metric(worker.metrics(), "streamscore_batch_size_count") - batches_before
    mgets, primary, shadow = (a - b for a, b in zip(counts(), before, strict=True))
    store.close()
    triton.close()
    assert 1 <= batches < 2000  # events were batched
    assert (mgets, primary, shadow) == (batches, batches, batches)


def test_bad_bytes_go_to_the_dlq_with_their_cause_and_the_rest_is_scored(
    stack: ServicesSettings, start_worker: Any, entities: Entities
) -> None:
    ids, _ = entities
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")))
    worker = start_worker()
    topics = worker.topics
    events, _ = make_events(40, seed=2, entities=ids)
    good = [(e["entity_id"].encode(), EVENT_CODEC.encode(e)) for e in events]
    truncated = EVENT_CODEC.encode(events[0])[:-5]
    produce(stack.kafka_bootstrap, topics.events, good[:20])
    produce(stack.kafka_bootstrap, topics.events, [(b"garbage", b"\x00\x01not avro")], partition=3)
    produce(stack.kafka_bootstrap, topics.events, [(b"truncated", truncated)], partition=1)
    produce(stack.kafka_bootstrap, topics.events, good[20:])

    scored = predictions(stack.kafka_bootstrap, topics.predictions, 40)
    assert sorted(p["event_id"] for p in scored) == sorted(e["event_id"] for e in events)
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
    stack: ServicesSettings, start_worker: Any, entities: Entities
) -> None:
    ids, _ = entities
    set_routing(stack, Routing(ModelRef(DEFAULT_MODEL, "1")))
    first = start_worker()
    second = start_worker()
    topics = first.topics
    group = first.settings.app_id
    wait_for(
        lambda: group_sizes(stack.kafka_bootstrap, group, topics.events) == [2, 2],
        60,
        "two members with two partitions each",
    )
    events, _ = make_events(400, seed=10, entities=ids)
    produce_events(stack.kafka_bootstrap, topics.events, events)
    scored = predictions(stack.kafka_bootstrap, topics.predictions, 400)
    assert {p["event_id"] for p in scored} == {e["event_id"] for e in events}
    wait_for(
        lambda: (
            metric(first.metrics(), "streamscore_events_in_total") > 0
            and metric(second.metrics(), "streamscore_events_in_total") > 0
        ),
        30,
        "both workers to take events",
    )

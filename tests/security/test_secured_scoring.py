"""Scoring on a secured stack, configured by settings alone, and no secret in any output.

The worker is a real `streamscore worker` child (both engines) whose only configuration is
the STREAMSCORE_* variables that :func:`on_services` derives from the secured services:
SASL_SSL with the generated CA, rediss:// as the ACL user, Triton's model-control key.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException
from typer.testing import CliRunner

from inference.contract import tensors_of
from inference.repository import ModelRepository
from inference.training import MLPParams
from infra.process import free_port
from streams.cli import cli
from streams.client import EventProducer, RecordConsumer
from streams.features.store import VectorLayout, load_sync
from streams.routing import ModelRef, Routing, state
from streams.routing.catalog import ready_ref
from streams.topics import TopicNames, ensure_topics
from streams.worker.settings import WorkerSettings, on_services
from tests.support.events import full_rows, make_events
from tests.support.models import DEFAULT_MODEL, expected_scores, train_and_export
from tests.support.projects import FRAUD, N_EVENT, labelled_dataset, sample_features
from tests.support.security import Secured, one_line, run_cli, with_values
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

N = 200
PRIMARY, SHADOW = ModelRef(DEFAULT_MODEL, "1"), ModelRef(DEFAULT_MODEL, "2")


@pytest.fixture(scope="module")
def second_version(secured: Secured) -> ModelRef:
    """scorer:2 exported into the repository; Triton is not told (explicit model control)."""
    repo = ModelRepository(secured.config.model_repository)
    if len(repo.versions(DEFAULT_MODEL)) < 2:
        x, y = labelled_dataset(seed=7, n=3_000)
        train_and_export(repo, DEFAULT_MODEL, x, y, MLPParams(epochs=1, seed=7))
    return SHADOW


def _write_routing(settings: WorkerSettings, routing: Routing) -> None:
    store = settings.redis.client()
    try:
        state.write_sync(store, state.routing_key(settings.use_case().name), routing)
    finally:
        store.close()


def _infer(client: grpcclient.InferenceServerClient, rows: np.ndarray) -> np.ndarray:
    tensors = tensors_of(FRAUD, DEFAULT_MODEL)
    tensor = grpcclient.InferInput(tensors.input, list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    result = client.infer(DEFAULT_MODEL, [tensor], model_version="1")
    return np.asarray(result.as_numpy(tensors.output)).reshape(-1)


def test_model_control_needs_the_key_and_inference_does_not(
    secured: Secured, second_version: ModelRef
) -> None:
    config = secured.config
    keyed = on_services(config)
    _write_routing(keyed, Routing(PRIMARY))
    raw = grpcclient.InferenceServerClient(config.triton_grpc_url)  # no key
    http = httpclient.InferenceServerClient(f"{config.host}:{config.triton_http_port}")
    for refused in (
        lambda: raw.unload_model(DEFAULT_MODEL),
        lambda: raw.load_model(DEFAULT_MODEL),
        lambda: http.unload_model(DEFAULT_MODEL),
        lambda: http.load_model(DEFAULT_MODEL),
    ):
        with pytest.raises(InferenceServerException, match="restricted"):
            refused()
    rows = sample_features(np.random.default_rng(3), 8).astype(np.float32)
    want = expected_scores(config, DEFAULT_MODEL, 1, rows)
    np.testing.assert_allclose(_infer(raw, rows), want, rtol=1e-5, atol=1e-7)

    # `streamscore models shadow add` loads the new version through the routing catalog.
    unkeyed = with_values(keyed, "triton", admin_key=None)
    args = ["models", "shadow", "add", str(second_version)]
    refused = run_cli(secured, "shadow add without the key", unkeyed, args)
    assert refused.returncode == 1
    assert "restricted" in one_line(refused.stderr)
    assert not raw.is_model_ready(DEFAULT_MODEL, second_version.version)
    added = run_cli(secured, "shadow add with the key", keyed, args)
    assert added.returncode == 0, added.stderr
    assert one_line(added.stdout) == f"primary {PRIMARY}; shadows {second_version}"
    assert raw.is_model_ready(DEFAULT_MODEL, second_version.version)

    # The worker's own clients: unload and load again with the key.
    admin = keyed.triton.client()
    admin.unload_model(DEFAULT_MODEL)
    wait_for(lambda: not raw.is_model_ready(DEFAULT_MODEL, "1"), 30, "scorer unloaded")
    assert ready_ref(admin, str(PRIMARY)) == PRIMARY  # the catalog loads it back
    assert raw.is_model_ready(DEFAULT_MODEL, "1")
    np.testing.assert_allclose(_infer(raw, rows), want, rtol=1e-5, atol=1e-7)
    for client in (admin, raw, http):
        client.close()
    assert secured.leaks() == []


@pytest.mark.parametrize("engine", ["faust", "librdkafka"])
def test_a_worker_configured_by_settings_alone_scores_over_the_secured_services(
    secured: Secured, second_version: ModelRef, children: Any, engine: str
) -> None:
    config = secured.config
    prefix = f"sec{uuid.uuid4().hex[:8]}"
    settings = on_services(
        config,
        engine=engine,
        app_id=f"{prefix}-scorer",
        topics=TopicNames().prefixed(prefix),
        batch={"timeout_ms": 20},
        routing={"refresh_s": 0.2},
        commit_interval_s=0.2,
        metrics_port=free_port(),
    )
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert settings.redis.url.startswith("rediss://") and settings.redis.username
    assert settings.triton.admin_key is not None
    admin = settings.triton.client()
    ready_ref(admin, str(second_version))  # loaded with the key, if it is not yet
    admin.close()
    _write_routing(settings, Routing(PRIMARY, (second_version,)))
    ensure_topics(settings.kafka.librdkafka(), settings.topics.specs())
    rng = np.random.default_rng(5)
    ids = [f"acct-{uuid.uuid4().hex[:10]}" for _ in range(20)]
    vectors = {e: sample_features(rng, 1)[0, N_EVENT:] for e in ids}
    store = settings.redis.client()
    load_sync(store, VectorLayout.of(FRAUD), vectors.items())
    store.close()

    worker = children.start("worker", settings, ["worker"], settings.metrics_port)
    events, x = make_events(N, seed=9, entities=ids)
    with EventProducer(settings, validate=False) as producer:
        producer.send_many(events)
    outputs = {}
    for role, topic in (
        ("primary", settings.topics.predictions),
        ("shadow", settings.topics.shadow),
    ):
        consumer = RecordConsumer(
            settings, topic, schema="prediction", from_beginning=True, limit=N, timeout_s=90
        )
        outputs[role] = list(consumer)
    assert worker.proc.poll() is None, worker.log.read_text()

    sent = {e["event_id"]: i for i, e in enumerate(events)}
    rows = full_rows(events, x, vectors)
    for role, ref in (("primary", PRIMARY), ("shadow", second_version)):
        got = outputs[role]
        assert sorted(p["event_id"] for p in got) == sorted(sent), role
        assert {(p["model_name"], p["model_version"]) for p in got} == {(ref.name, ref.version)}
        assert not any(p["features_missing"] for p in got)  # read from Redis over TLS
        scores = np.zeros(N)
        for p in got:
            scores[sent[p["event_id"]]] = p["score"]
        want = expected_scores(config, ref.name, int(ref.version), rows)
        np.testing.assert_allclose(scores, want, rtol=1e-5, atol=1e-7)
    worker.stop()
    secured.capture(f"{engine} worker log", worker.log.read_text(errors="replace"))
    assert secured.leaks() == []


def test_status_reports_the_secured_services_healthy_without_a_secret(secured: Secured) -> None:
    result = CliRunner().invoke(cli, ["status"], env=secured.config.environment())
    secured.capture("streamscore status", result.output)
    assert result.exit_code == 0, result.output
    for name in ("kafka", "redis", "triton"):
        assert name in result.output
    assert secured.leaks() == []

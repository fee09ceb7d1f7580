"""Fixtures of the worker's integration tests: both engines, a second model, entities, and
each example project deployed (tests/support/deployed.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import redis

from infra.settings import ServicesSettings
from streams.features.store import VectorLayout, load_sync
from tests.support.deployed import deployed, project, served
from tests.support.events import Entities
from tests.support.kafka import create_topics
from tests.support.models import export_model
from tests.support.projects import FRAUD, N_EVENT, sample_features

CHALLENGER = "challenger"
__all__ = ["deployed", "project", "served"]  # fixtures of every example project


@pytest.fixture(params=["faust", "librdkafka"])
def start_worker(request: pytest.FixtureRequest, start_worker: Any) -> Callable[..., Any]:
    """Every worker test runs against both engines; the worker's topics are created."""

    def start(**settings: Any) -> Any:
        settings.setdefault("engine", request.param)
        worker = start_worker(**settings)
        create_topics(worker.settings.kafka.bootstrap, worker.topics)
        return worker

    return start


@pytest.fixture(scope="module")
def challenger(stack: ServicesSettings) -> str:
    """A second model, loaded on Triton to serve as a shadow."""
    return export_model(stack, CHALLENGER, seed=11)


@pytest.fixture
def entities(stack: ServicesSettings) -> Iterator[Entities]:
    """50 fresh entities with stored features: (ids, id → stored vector)."""
    rng = np.random.default_rng(5)
    ids = [f"acct-{uuid.uuid4().hex[:10]}" for _ in range(50)]
    vectors = {e: sample_features(rng, 1)[0, N_EVENT:] for e in ids}
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    load_sync(client, VectorLayout.of(FRAUD), vectors.items())
    yield ids, vectors
    client.close()

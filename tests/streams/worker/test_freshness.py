"""Freshness of the stored features on a running worker, for each example project given a
short ttl: an old vector scores with the view's defaults and says so (``features_stale``,
not missing); a vector written before vectors carried their update time still scores with
its values, its age counted as unknown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from infra.settings import ServicesSettings
from schemas.project import load_project
from tests.support.deployed import Deployed
from tests.support.kafka import predictions
from tests.support.projects import derived
from tests.support.waiting import metric, wait_for

TTL_S = 60  # the workers here score well within it; the old vectors are far older


@pytest.fixture
def short_ttl(deployed: Deployed, tmp_path: Path) -> Iterator[Deployed]:
    """The test's project (served, routed) with a feature view ttl of a minute."""
    path = derived(deployed.project.root, tmp_path / "project", {"features": {"ttl": f"{TTL_S}s"}})
    project = load_project(path)
    assert (project.name, project.ttl_ms) == (deployed.project.name, TTL_S * 1000)
    ready = Deployed(project, deployed.stack)
    yield ready
    ready.close()


def test_old_vectors_score_with_defaults_flagged_stale_and_old_layout_ones_still_read(
    stack: ServicesSettings, start_worker: Any, short_ttl: Deployed
) -> None:
    deployed = short_ttl
    worker = start_worker(project=deployed.path)
    topics = worker.topics
    # The worker scores before the fresh vectors are written: their age then is seconds.
    warm = deployed.vectors(3, seed=1)
    deployed.produce(topics.events, deployed.events(3, seed=1, entities=warm.ids))
    assert len(predictions(stack.kafka_bootstrap, topics.predictions, 3)) == 3

    now_ms = int(time.time() * 1000)
    fresh = deployed.entities(20, seed=2)
    old = deployed.entities(20, seed=3, updated_at_ms=now_ms - 3600 * 1000)  # an hour old
    legacy = deployed.vectors(20, seed=4)  # 4n bytes of float32, no update time
    client = redis.Redis(host=stack.host, port=stack.redis_port)
    for entity, vector in legacy.vectors.items():
        client.set(deployed.layout.key(entity), vector.astype("<f4").tobytes())
    client.close()

    lots = {
        "fresh": deployed.events(60, seed=5, entities=fresh.ids),
        "old": deployed.events(50, seed=6, entities=old.ids),
        "legacy": deployed.events(40, seed=7, entities=legacy.ids),
    }
    for events in lots.values():
        deployed.produce(topics.events, events)
    scored = predictions(stack.kafka_bootstrap, topics.predictions, 153)
    assert len(scored) == 153

    def of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = {deployed.id_of(e) for e in events}
        return [p for p in scored if p["event_id"] in ids]

    # Fresh: the stored values. Old: the view's defaults (none of the stored values), stale
    # and not missing. Legacy: the stored values, neither stale nor missing.
    deployed.check(of(lots["fresh"]), lots["fresh"], fresh.vectors)
    deployed.check(of(lots["old"]), lots["old"], {}, stale=True)
    deployed.check(of(lots["legacy"]), lots["legacy"], legacy.vectors)
    # The defaults are not what was stored: the checks above tell the two apart.
    assert not np.allclose(deployed.rows(lots["old"], {}), deployed.rows(lots["old"], old.vectors))

    def counted() -> tuple[float, float]:
        text = worker.metrics()
        return (
            metric(text, "streamscore_features_stale_total"),
            metric(text, "streamscore_features_age_unknown_total"),
        )

    wait_for(lambda: counted() == (50, 40), 15, "50 stale and 40 of unknown age")
    text = worker.metrics()
    # The warm-up events' entities have no vector: missing, the only ones.
    assert metric(text, 'streamscore_features_missing_total{cause="unknown-entity"}') == 3

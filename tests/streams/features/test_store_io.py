"""`streamscore features load`, the bulk way into the store (the live way, the features topic,
is tested with the worker that applies it: tests/streams/worker/test_live_changes.py), for
each example project's feature view."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from typer.testing import CliRunner

from infra.settings import ServicesSettings
from schemas.project import ENV_VAR, Project
from streams.cli import cli
from streams.features.store import VectorLayout


@pytest.fixture
def load(project: Project, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`streamscore features load FILE --redis-url URL` of the test's project (its variable
    set for the command only)."""
    monkeypatch.setenv(ENV_VAR, str(project.path))

    def run(path: Path, url: str) -> Any:
        args = ["features", "load", str(path), "--redis-url", url, "--project", str(project.path)]
        return CliRunner().invoke(cli, args)

    return run


def _stored(config: ServicesSettings, project: Project, entities: list[str]) -> Any:
    layout = VectorLayout.of(project)
    client = redis.Redis(host=config.host, port=config.redis_port)
    try:
        raw = client.mget([layout.key(e) for e in entities])
        return layout.unpack_many(raw), layout.ages_ms(raw, int(time.time() * 1000))
    finally:
        client.close()


def test_load_writes_every_entity_and_absent_features_take_defaults(
    stack: ServicesSettings, tmp_path: Path, project: Project, load: Any
) -> None:
    ids = [f"bulk-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    entity, names = project.features.entity, project.feature_names
    # A value for every feature, each within the range the view declares.
    lows = [0.0 if f.valid is None or f.valid[0] is None else f.valid[0]
            for f in project.features.features]  # fmt: skip
    every = [low + i / 10 for i, low in enumerate(lows)]
    lines = [
        {entity: ids[0], names[0]: 10.0, names[-2]: 2.0},
        {entity: ids[1], **dict(zip(names, every, strict=True))},
        {entity: ids[2]},
    ]
    path = tmp_path / "features.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    url = f"redis://{stack.host}:{stack.redis_port}/0"
    before = int(time.time() * 1000)
    result = load(path, url)
    assert result.exit_code == 0, result.output
    assert "loaded 3 entities" in result.output
    rows, ages = _stored(stack, project, ids)
    assert not rows.missing.any() and not rows.stale.any() and not rows.unknown_age.any()
    assert rows.values[0][0] == 10.0 and rows.values[0][-2] == 2.0
    np.testing.assert_allclose(rows.values[1], every, rtol=1e-6)
    np.testing.assert_array_equal(rows.values[2], project.feature_defaults)
    # Stamped with the time of the load (no updated_at given).
    assert all(a is not None and 0 <= a <= int(time.time() * 1000) - before for a in ages)


def test_a_bad_line_is_named_and_nothing_is_loaded(
    stack: ServicesSettings, tmp_path: Path, project: Project, load: Any
) -> None:
    good, bad = f"ok-{uuid.uuid4().hex[:8]}", f"bad-{uuid.uuid4().hex[:8]}"
    entity, feature = project.features.entity, project.feature_names[1]
    path = tmp_path / "features.csv"
    path.write_text(f"{entity},{feature}\n{good},4\n{bad},many\n")
    url = f"redis://{stack.host}:{stack.redis_port}/0"
    result = load(path, url)
    assert result.exit_code == 1
    assert f"line 3, field '{feature}'" in result.output
    assert _stored(stack, project, [good, bad])[0].missing.all()

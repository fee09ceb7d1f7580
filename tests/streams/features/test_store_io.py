"""`streamscore features load`, the bulk way into the store (the live way, the features topic,
is tested with the worker that applies it: tests/streams/worker/test_live_changes.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import redis
from typer.testing import CliRunner

from infra.settings import ServicesSettings
from schemas.features import ENTITY_FEATURES
from streams.cli import cli
from streams.features.store import DEFAULTS, unpack_many


def _stored(config: ServicesSettings, entities: list[str]) -> Any:
    client = redis.Redis(host=config.host, port=config.redis_port)
    try:
        return unpack_many(client.mget([f"features:{e}" for e in entities]))
    finally:
        client.close()


def test_load_writes_every_entity_and_absent_features_take_defaults(
    stack: ServicesSettings, tmp_path: Path
) -> None:
    ids = [f"bulk-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    lines = [
        {"entity_id": ids[0], "avg_amount_30d": 10.0, "failed_logins_7d": 2.0},
        {"entity_id": ids[1], **{f.name: i / 10 for i, f in enumerate(ENTITY_FEATURES)}},
        {"entity_id": ids[2]},
    ]
    path = tmp_path / "features.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    url = f"redis://{stack.host}:{stack.redis_port}/0"
    result = CliRunner().invoke(cli, ["features", "load", str(path), "--redis-url", url])
    assert result.exit_code == 0, result.output
    assert "loaded 3 entities" in result.output
    rows = _stored(stack, ids)
    assert not rows.missing.any()
    assert rows.values[0][0] == 10.0 and rows.values[0][6] == 2.0
    np.testing.assert_allclose(rows.values[1], np.arange(len(ENTITY_FEATURES)) / 10, rtol=1e-6)
    np.testing.assert_array_equal(rows.values[2], DEFAULTS)


def test_a_bad_line_is_named_and_nothing_is_loaded(stack: ServicesSettings, tmp_path: Path) -> None:
    good, bad = f"ok-{uuid.uuid4().hex[:8]}", f"bad-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "features.csv"
    path.write_text(f"entity_id,txn_count_7d\n{good},4\n{bad},many\n")
    url = f"redis://{stack.host}:{stack.redis_port}/0"
    result = CliRunner().invoke(cli, ["features", "load", str(path), "--redis-url", url])
    assert result.exit_code == 1
    assert "line 3, field 'txn_count_7d'" in result.output
    assert _stored(stack, [good, bad]).missing.all()

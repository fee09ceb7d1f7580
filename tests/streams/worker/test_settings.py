"""Every setting documented, with the same default in the code, the README and the docs."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from pydantic.fields import FieldInfo

from infra.settings import ServicesSettings
from streams.worker.pipeline import PipelineConfig
from streams.worker.settings import WorkerSettings, on_services

REPO = Path(__file__).resolve().parents[3]
VARIABLES = {**dict(ServicesSettings.variables()), **dict(WorkerSettings.variables())}


def _default(field: FieldInfo) -> str | None:
    """The default as a variable would be written (``false``, ``5.0``); None if it has none."""
    value = None if field.default_factory is not None else field.default
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_every_variable_has_a_description(name: str) -> None:
    assert VARIABLES[name].description, f"{name} has no description"


def test_the_readme_states_the_defaults_of_the_code() -> None:
    # The README writes a setting and its default as (`BATCH_SIZE`, 512).
    stated = re.findall(r"\(`([A-Z_]+)`, ([\w.]+)\)", (REPO / "README.md").read_text())
    assert len(stated) >= 2
    for short, value in stated:
        field = VARIABLES[f"STREAMSCORE_{short}"]
        assert _default(field) in (value, f"{value}.0"), f"README: {short} is {value}"


def test_the_architecture_doc_lists_every_worker_variable_with_its_default() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text()
    for name, field in WorkerSettings.variables():
        rows = [line for line in doc.splitlines() if f"`{name}`" in line and "|" in line]
        assert rows, f"docs/architecture.md has no row for {name}"
        default = _default(field)
        if default is not None:
            assert default in rows[0], f"docs/architecture.md: {name} default {default}"


def test_on_services_points_a_worker_at_those_services(tmp_path: Path) -> None:
    services = ServicesSettings(kafka_port=1, redis_port=2, triton_grpc_port=3, state_dir=tmp_path)
    settings = on_services(services, batch={"size": 9}, triton={"timeout_s": 0.5})
    assert settings.kafka.bootstrap == "127.0.0.1:1"
    assert settings.redis.url == "redis://127.0.0.1:2/0"
    assert (settings.triton.grpc_url, settings.triton.timeout_s) == ("127.0.0.1:3", 0.5)
    assert settings.batch.size == 9


def test_the_decision_thresholds_are_no_worker_setting_any_more() -> None:
    """They are the project's (models[].decisions); `streamscore` refuses the old variables
    in tests/streams/cli/test_project.py."""
    with pytest.raises(ValueError, match="review_threshold"):
        PipelineConfig(review_threshold=0.8)
    assert set(PipelineConfig.model_fields) == {"on_store_down"}


def test_exactly_once_is_refused_on_the_faust_engine_and_named_per_instance() -> None:
    with pytest.raises(ValueError, match="exactly_once needs engine librdkafka"):
        WorkerSettings(engine="faust", processing_guarantee="exactly_once")
    settings = WorkerSettings(engine="librdkafka", processing_guarantee="exactly_once")
    assert settings.transaction_id == f"{settings.app_id}-{socket.gethostname()}"
    named = WorkerSettings(engine="librdkafka", transactional_id="scorer-a")
    assert named.transaction_id == "scorer-a"

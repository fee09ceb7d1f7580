"""The retraining tests' settings: topics and a consumer group of each test's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import ServicesSettings
from streams.retraining.settings import RetrainingSettings
from tests.support.retraining import retraining_settings


@pytest.fixture
def settings(stack: ServicesSettings, tmp_path: Path) -> RetrainingSettings:
    return retraining_settings(stack, tmp_path / "project")

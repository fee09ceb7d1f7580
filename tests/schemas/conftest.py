"""Fixtures of the schema tests."""

from __future__ import annotations

import pytest

from tests.support.projects import fraud_codec
from tests.support.samples import SAMPLES


@pytest.fixture
def event_value() -> bytes:
    """The sample event, encoded with single-object framing."""
    return fraud_codec("event").encode(SAMPLES["event"])

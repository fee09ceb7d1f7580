"""Fixtures of the schema tests."""

from __future__ import annotations

import pytest

from schemas.codec import codec_for
from tests.support.samples import SAMPLES


@pytest.fixture
def event_value() -> bytes:
    """The sample event, encoded with single-object framing."""
    return codec_for("event").encode(SAMPLES["event"])

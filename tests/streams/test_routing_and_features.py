"""Pure logic of routing values, packed feature vectors and decisions."""

from __future__ import annotations

import numpy as np
import pytest

from streams.feature_store import DEFAULTS, N_ENTITY, pack, unpack_many
from streams.pipeline import Thresholds
from streams.routing import ModelRef, Routing, RoutingError


def test_model_ref_parsing() -> None:
    assert ModelRef.parse("scorer:3") == ModelRef("scorer", "3")
    assert ModelRef.parse("scorer", default_version="5") == ModelRef("scorer", "5")
    for bad in ("", ":1", "scorer", "scorer:x"):
        with pytest.raises(RoutingError):
            ModelRef.parse(bad)


def test_routing_changes() -> None:
    a, b, c = ModelRef("a", "1"), ModelRef("b", "1"), ModelRef("b", "2")
    routing = Routing(a).add_shadow(b).add_shadow(c)
    assert routing.shadows == (b, c)
    assert Routing.from_json(routing.to_json()) == routing
    promoted = routing.promote(c)
    assert promoted.primary == c and promoted.shadows == (b,)
    assert routing.remove_shadow("b").shadows == ()
    assert routing.remove_shadow("b", "2").shadows == (b,)
    with pytest.raises(RoutingError):
        routing.add_shadow(a)
    with pytest.raises(RoutingError):
        routing.remove_shadow("zzz")
    with pytest.raises(RoutingError):
        Routing.from_json('{"shadows": []}')


def test_unpack_fills_defaults_for_missing_and_malformed() -> None:
    row = np.arange(N_ENTITY, dtype=np.float32)
    rows = unpack_many([pack(row), None, b"\x00" * 3, pack(row * 2)])
    np.testing.assert_array_equal(rows.values[0], row)
    np.testing.assert_array_equal(rows.values[1], DEFAULTS)
    np.testing.assert_array_equal(rows.values[2], DEFAULTS)
    np.testing.assert_array_equal(rows.values[3], row * 2)
    assert rows.missing.tolist() == [False, True, True, False]
    with pytest.raises(ValueError):
        pack([1.0, 2.0])


def test_thresholds_decide() -> None:
    decide = Thresholds(review=0.3, decline=0.7).decide
    assert decide(np.array([0.0, 0.29, 0.3, 0.69, 0.7, 1.0])) == [
        "approve", "approve", "review", "review", "decline", "decline",
    ]  # fmt: skip

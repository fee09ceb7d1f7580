"""Pure logic of routing values: parsing references, promoting, adding and removing shadows."""

from __future__ import annotations

import pytest

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

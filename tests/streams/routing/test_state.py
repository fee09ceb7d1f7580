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


def test_canary_round_trips_and_moves() -> None:
    r = Routing(ModelRef("scorer", "1"), (ModelRef("scorer", "2"),))
    c = r.with_canary(ModelRef("scorer", "2"), 10)
    assert Routing.from_json(c.to_json()) == c
    moved = c.with_canary(ModelRef("scorer", "2"), 25)
    assert moved.canary is not None and moved.canary.percent == 25
    assert moved.shadows == r.shadows  # shadows keep running
    with pytest.raises(RoutingError, match="already the canary"):
        c.with_canary(ModelRef("scorer", "3"), 5)
    with pytest.raises(RoutingError, match="is the primary"):
        r.with_canary(ModelRef("scorer", "1"), 5)
    with pytest.raises(RoutingError, match="within 0-100"):
        r.with_canary(ModelRef("scorer", "2"), 100.5)


def test_rollback_ends_the_canary_then_restores_the_previous_primary() -> None:
    one, two, three = (ModelRef("scorer", v) for v in "123")
    promoted = Routing(one, (two,)).promote(two)
    assert promoted == Routing(two, (), None, one)
    canary = promoted.with_canary(three, 10)
    assert canary.rollback() == promoted
    assert promoted.rollback() == Routing(one)
    with pytest.raises(RoutingError, match="nothing to roll back"):
        Routing(one).rollback()


def test_old_routing_values_still_read() -> None:
    old = '{"primary": "scorer:1", "shadows": ["scorer:2"]}'
    assert Routing.from_json(old) == Routing(ModelRef("scorer", "1"), (ModelRef("scorer", "2"),))
    with pytest.raises(RoutingError):
        Routing.from_json('{"primary": "scorer:1", "canary": {"model": "scorer:2"}}')

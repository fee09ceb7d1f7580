"""The canary's share: accurate, sticky, and monotone as the percent moves."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from streams.routing.split import BUCKETS, arm_of, buckets, canary_mask
from streams.simulation import simulator
from tests.support.projects import FRAUD, example


def entity_ids(n: int) -> list[str]:
    """The fraud example's simulated entity ids (acct-000000, ...)."""
    return simulator.entity_ids(FRAUD, n)


def keys(ids: list[str]) -> list[bytes]:
    return [i.encode() for i in ids]


@pytest.mark.parametrize(
    "ids",
    [
        entity_ids(20_000),
        simulator.entity_ids(example("delivery"), 20_000),
        [str(uuid.UUID(int=i * 7919 + 1)) for i in range(20_000)],
    ],
    ids=["simulated", "simulated-delivery", "uuids"],
)
@pytest.mark.parametrize("percent", [1.0, 10.0, 50.0])
def test_share_is_within_one_point(ids: list[str], percent: float) -> None:
    share = canary_mask(keys(ids), percent).mean() * 100
    print(f"{percent:g}% canary over {len(ids):,} entities: {share:.2f}%")
    assert abs(share - percent) <= 1.0


def test_buckets_are_uniform() -> None:
    counts = np.bincount(buckets(keys(entity_ids(100_000))) // 1000, minlength=10)
    assert counts.min() > 9_500 and counts.max() < 10_500  # 10,000 expected each
    assert buckets(keys(entity_ids(1000))).max() < BUCKETS


def test_an_entity_always_lands_in_the_same_arm() -> None:
    ids = entity_ids(5000)
    first = canary_mask(keys(ids), 10)
    again = canary_mask(keys(list(reversed(ids))), 10)[::-1]
    assert (first == again).all()
    assert [arm_of(i, 10) for i in ids[:200]] == ["canary" if m else "primary" for m in first[:200]]


def test_moving_the_share_up_keeps_the_canary_entities() -> None:
    k = keys(entity_ids(20_000))
    ten, twenty = canary_mask(k, 10), canary_mask(k, 20)
    assert (twenty[ten]).all() and twenty.sum() > ten.sum()


def test_zero_and_hundred() -> None:
    k = keys(entity_ids(1000))
    assert not canary_mask(k, 0).any()
    assert canary_mask(k, 100).all()
    assert canary_mask([], 10).shape == (0,)

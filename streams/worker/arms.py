"""A batch split between the primary and a canary (streams/routing/split.py says who is where).

With a canary in the routing, the primary still scores the whole batch (one request, as
without a canary: its scores are the baseline every shadow is compared with), the canary
scores only its own rows, and each row's decision comes from its arm. If the canary is also a
shadow, its shadow request already scored every row and is reused: still one request per
model per batch. A canary that fails leaves its rows to the primary for that batch
(``streamscore_canary_fallback_total``): a challenger never holds a batch back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from streams.routing.split import canary_mask
from streams.routing.state import RoutedModels

T = TypeVar("T")


class Arms(NamedTuple):
    canary: np.ndarray  # row indices the canary decides, ascending
    primary: np.ndarray  # the other rows, ascending


def arms_of(models: RoutedModels, entity_keys: Sequence[bytes]) -> Arms | None:
    """None when no canary runs or none of the batch's entities is in its share."""
    if models.canary is None:
        return None
    mask = canary_mask(entity_keys, models.canary_percent)
    if not mask.any():
        return None
    return Arms(np.flatnonzero(mask), np.flatnonzero(~mask))


def pick(items: Sequence[T], rows: np.ndarray) -> list[T]:
    return [items[i] for i in rows.tolist()]


def interleave(arms: Arms, primary: Sequence[T], canary: Sequence[T]) -> list[T]:
    """The two arms' outputs back in the batch's order, so that one entity's outputs keep
    the order of its events."""
    merged: list[T] = list(primary) + list(canary)
    for i, item in zip(arms.primary.tolist(), primary, strict=True):
        merged[i] = item
    for i, item in zip(arms.canary.tolist(), canary, strict=True):
        merged[i] = item
    return merged

"""Events to score, with the exact feature rows a model should see for them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tests.support.projects import N_EVENT, event_fields, sample_features

# Entities with stored features: their ids, and id → the vector the store holds.
Entities = tuple[list[str], dict[str, np.ndarray]]


def make_events(n: int, seed: int, entities: list[str]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``n`` events over ``entities`` (round robin), and their full feature rows (the event
    part is what the event carries; the entity part is random, for the caller to ignore or
    replace with what the store holds)."""
    rng = np.random.default_rng(seed)
    x = sample_features(rng, n)
    events = []
    for i in range(n):
        record: dict[str, Any] = {
            "event_id": str(uuid.UUID(bytes=rng.bytes(16))),
            "entity_id": entities[i % len(entities)],
            "event_time": datetime.now(UTC),
            "segment": None,
            **event_fields(x[i]),
        }
        events.append(record)
    return events, x


def full_rows(
    events: list[dict[str, Any]], x: np.ndarray, entity_rows: dict[str, np.ndarray]
) -> np.ndarray:
    """The rows the model sees: each event's own features, then its entity's stored ones."""
    n_event = N_EVENT
    return np.stack(
        [
            np.concatenate([x[i, :n_event], entity_rows[e["entity_id"]]]).astype(np.float32)
            for i, e in enumerate(events)
        ]
    )

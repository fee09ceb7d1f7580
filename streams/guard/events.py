"""`models.events`: every routing change with its reason, for people and for audits.

The guard publishes a rollback there; `models canary`, `models rollback` and `models promote`
publish theirs with the same function, so one topic tells the whole story of what decided
for the users and why (`streamscore consume models.events`). The Redis list
``streamscore:promotions`` keeps the promotion gate's own record; this topic is the stream.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas.records import ModelEvent
from streams.client.errors import InvalidRecordError
from streams.client.producer import RecordProducer
from streams.client.settings import ClientSettings
from streams.routing.state import Routing

KINDS = ("rollback", "canary", "promote")


def _routing(value: Routing | str | None) -> str | None:
    return value.to_json() if isinstance(value, Routing) else value


def publish_model_event(
    settings: ClientSettings,
    kind: str,
    model: str,
    reason: str,
    metrics: Mapping[str, float] | None = None,
    before: Routing | str | None = None,
    after: Routing | str | None = None,
    by: str = "operator",
    timeout_s: float = 30.0,
) -> ModelEvent:
    """Publish one record on ``settings.topics.model_events`` (key ``model``) and wait for
    the broker's ack; returns the record. ``before`` and ``after`` are the routing around
    the change (a :class:`Routing` is written as its JSON). Non-finite metrics are left out
    (Avro would carry them, JSON readers of the record would not). Raises
    :class:`~streams.client.errors.InvalidRecordError` for a bad field (an empty reason) and
    :class:`~streams.client.errors.ClientError` when the record is not acknowledged."""
    try:
        record = ModelEvent(
            event_id=str(uuid.uuid4()),
            kind=kind,
            model=model,
            reason=reason,
            before=_routing(before),
            after=_routing(after),
            metrics={k: float(v) for k, v in (metrics or {}).items() if math.isfinite(v)},
            at=datetime.now(UTC),
            by=by,
        )
    except ValidationError as exc:
        raise InvalidRecordError(f"model_event: {exc.errors()[0]['msg']}") from exc
    topic = settings.topics.model_events
    with RecordProducer(
        settings, topic, "model_event", "model", close_timeout_s=timeout_s
    ) as producer:
        producer.send(record)
    return record


def as_dict(record: ModelEvent) -> dict[str, Any]:
    """The record as JSON-able data (times as ISO-8601), for logs and `--json` output."""
    return record.model_dump(mode="json")

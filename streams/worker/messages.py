"""Every message type of the scoring worker, in the order the data flows through it.

    InMessage ──► ScoringPipeline ──► BatchResult ──► BatchRunner ──► OutMessage ──► sink
    (consumed)                        predictions,                    (topic, key, value,
                                      shadow outputs,                  headers)
                                      DeadLetters

An engine (Faust or librdkafka) turns what its consumer gives into :class:`InMessage`; the
pipeline never sees a Kafka client's own types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

Headers = list[tuple[str, bytes]]
OutMessage = tuple[str, bytes | None, bytes, Headers | None]  # topic, key, value, headers


@dataclass(frozen=True, slots=True)
class InMessage:
    """One consumed message, whatever client consumed it."""

    key: bytes | None
    value: bytes
    topic: str
    partition: int
    offset: int
    timestamp_ms: int = 0  # the Kafka timestamp; 0 when the engine does not say


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that will never be scored, and why (the DLQ headers say the same)."""

    message: InMessage
    error_class: str
    reason: str  # a stable token: schemas.errors.DecodeReason or a pipeline reason
    detail: str

    def headers(self) -> Headers:
        msg = self.message
        return [
            ("error.class", self.error_class.encode()),
            ("error.reason", self.reason.encode()),
            ("error.message", self.detail.encode()),
            ("source.topic", msg.topic.encode()),
            ("source.partition", str(msg.partition).encode()),
            ("source.offset", str(msg.offset).encode()),
        ]

    def out_message(self, dlq_topic: str) -> OutMessage:
        """The original key and bytes, to the dead-letter topic, with the cause in headers."""
        return (dlq_topic, self.message.key, self.message.value, self.headers())


class OutRecord(NamedTuple):
    """One encoded prediction (primary or shadow), keyed by entity_id. (A tuple: a batch
    makes one per event and model, and a tuple is made several times faster than a frozen
    dataclass.)"""

    key: bytes
    value: bytes
    event_time_ms: int


@dataclass(slots=True)
class BatchResult:
    """What a batch turned into; every input message is in exactly one of predictions or
    dead_letters (a shadow output is extra, never instead)."""

    predictions: list[OutRecord] = field(default_factory=list)
    shadow: list[OutRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    shadow_missing: dict[str, int] = field(default_factory=dict)
    features_missing: int = 0

    def extend(self, other: BatchResult) -> None:
        """Append ``other`` (a later part of the same batch)."""
        self.predictions += other.predictions
        self.shadow += other.shadow
        self.dead_letters += other.dead_letters
        for model, n in other.shadow_missing.items():
            self.shadow_missing[model] = self.shadow_missing.get(model, 0) + n
        self.features_missing += other.features_missing

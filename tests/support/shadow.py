"""Known primary and shadow outputs, written straight to a test's own topics.

:func:`write_pairs` writes events, primary predictions, shadow predictions and labels whose
every figure is known in advance: the shadow equals the primary plus ``offset`` on the events
of one customer segment and equals it exactly elsewhere, so a report's figures can be checked
against a direct computation on the same arrays (:class:`Truth`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
from confluent_kafka import Producer

from schemas.codec import codec_for
from streams.topics import TopicNames
from tests.support.projects import FRAUD, fraud_codec

SEGMENTS = ("retail", "smb", "enterprise")
OFFSET_SEGMENT = "smb"
EVENT = fraud_codec("event", logical_types=False)
PREDICTION = codec_for("prediction", logical_types=False)
LABEL = fraud_codec("label", logical_types=False)
DECIDE = FRAUD.decider(FRAUD.default_model.name)  # the thresholds the workers decide with


@dataclass(frozen=True, slots=True)
class Truth:
    event_ids: list[str]
    segment: np.ndarray  # str per event
    primary: np.ndarray
    shadow: np.ndarray
    labels: np.ndarray  # 0/1, or -1 where no label was written
    event_time_ms: np.ndarray

    def decisions(self, scores: np.ndarray) -> np.ndarray:
        return DECIDE.decide_scores(scores)


def _prediction(
    event_id: str, entity: str, model: str, score: float, t: int, infer_ms: float
) -> bytes:
    name, version = model.split(":")
    decision = DECIDE.names[int(DECIDE.decide_scores(np.array([score]))[0])]
    return PREDICTION.encode({
        "event_id": event_id, "entity_id": entity, "model_name": name, "model_version": version,
        "score": score, "decision": decision, "features_missing": False, "event_time": t,
        "scored_at": t + 40, "timings": {"decode_ms": 0.1, "features_ms": 0.2,
                                         "infer_ms": infer_ms, "publish_ms": 0.0},
    })  # fmt: skip


def write_pairs(
    bootstrap: str,
    topics: TopicNames,
    n: int,
    t0_ms: int,
    *,
    seed: int = 0,
    offset: float = 0.125,
    label_share: float = 1.0,
    primary: str = "scorer:1",
    shadow: str = "scorer:2",
    rate: float = 1000.0,
    labels_follow: str = "primary",
) -> Truth:
    """``n`` events ``1000 / rate`` ms apart from ``t0_ms``, scored by both models; labels
    drawn from the primary's scores (the shadow is then worse) or, with
    ``labels_follow="shadow"``, from the shadow's (the shadow is then better)."""
    rng = np.random.default_rng(seed)
    # scores k / 1024 and an offset of 1/8 are exact in binary: every delta is exactly 0.125
    p = rng.integers(0, 1024 - 160, n) / 1024
    segment = rng.choice(SEGMENTS, n)
    s = np.where(segment == OFFSET_SEGMENT, p + offset, p)
    y = (rng.random(n) < (p if labels_follow == "primary" else s)).astype(np.int64)
    labels = np.where(rng.random(n) < label_share, y, -1)
    times = t0_ms + (np.arange(n) * 1000 / rate).astype(np.int64)
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i, event_id in enumerate(ids):
        entity = f"entity-{i % 97}"
        key = entity.encode()
        t = int(times[i])
        event = {
            "event_id": event_id, "entity_id": entity, "event_time": t, "amount": 10.0 + i % 500,
            "items": 1 + i % 5, "session_seconds": 30.0, "distance_km": 1.0, "is_foreign": False,
            "hour_of_day": 12, "device_age_days": 100, "merchant_risk": 0.1,
            "segment": str(segment[i]),
        }  # fmt: skip
        producer.produce(topics.events, EVENT.encode(event), key)
        for topic, model, score, infer_ms in (
            (topics.predictions, primary, p[i], 1.0),
            (topics.shadow, shadow, s[i], 2.0),
        ):
            producer.produce(topic, _prediction(event_id, entity, model, score, t, infer_ms), key)
        if labels[i] >= 0:
            label = {"event_id": event_id, "entity_id": entity, "label": int(labels[i]),
                     "observed_at": t + 5000}  # fmt: skip
            producer.produce(topics.labels, LABEL.encode(label), key)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return Truth(ids, segment, p, s, labels, times)

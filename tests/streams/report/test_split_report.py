"""`streamscore report shadow --split` on the real Kafka, model-free: prediction records with
roles and their labels written straight to the topics with the workers' own PredictionWriter.
Day one's canary sees the truth through little noise (clearly better than the primary), day
two's through much (clearly worse); entities are split by the router's own hash."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from infra.kafka_server import KafkaServer
from schemas.codec import SCHEMA_DIR, AvroCodec, codec_for
from schemas.prediction_writer import PredictionWriter
from streams.cli import cli
from streams.routing.split import arm_of
from streams.topics import TopicNames
from tests.support.kafka import create_topics
from tests.support.projects import fraud_codec

DAY = 86_400_000
T0 = 1_790_035_200_000  # 2026-09-22T00:00:00Z: day one; day two starts a day later
CANARY_PERCENT = 25
EVENTS_PER_DAY = 5000
OLD_PRIMARY = 40  # day one's first primary records, written by a writer on the released schema
runner = CliRunner()


def _day(rng: np.random.Generator, writer: PredictionWriter, t0: int, noise: dict[str, float],
         old: AvroCodec | None) -> tuple[list[tuple[str, bytes, bytes]], Counter[str]]:  # fmt: skip
    """One day's predictions and labels, as (topic role, key, value), and events per arm."""
    entities = [f"acct-{i}" for i in rng.integers(0, 600, EVENTS_PER_DAY)]
    arm = np.array([arm_of(e, CANARY_PERCENT) for e in entities])
    truth = rng.beta(1.0, 3.0, EVENTS_PER_DAY)
    labels = (rng.random(EVENTS_PER_DAY) < truth).astype(int)
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in entities]
    times = (t0 + np.arange(EVENTS_PER_DAY) * 1000).tolist()
    out: list[tuple[str, bytes, bytes]] = []
    timings = {"decode_ms": 0.1, "features_ms": 0.2, "infer_ms": 1.0, "publish_ms": 0.0}
    for name, version in (("primary", "1"), ("canary", "2")):
        rows = np.flatnonzero(arm == name)
        logit = np.log(truth[rows] / (1 - truth[rows])) + rng.normal(0, noise[name], len(rows))
        scores = 1 / (1 + np.exp(-logit))
        decisions = np.array(["approve", "review", "decline"])[
            (scores >= 0.3).astype(int) + (scores >= 0.7)
        ].tolist()
        parts = writer.event_parts([ids[i] for i in rows], [entities[i] for i in rows],
                                   [times[i] for i in rows])  # fmt: skip
        values = writer.encode(parts, scores.tolist(), decisions, [False] * len(rows), "scorer",
                               version, times[-1], timings, role=name)  # fmt: skip
        for k, (i, value) in enumerate(zip(rows.tolist(), values, strict=True)):
            if old is not None and name == "primary" and k < OLD_PRIMARY:  # no role field
                record = {
                    "event_id": ids[i], "entity_id": entities[i], "model_name": "scorer",
                    "model_version": "1", "score": float(scores[k]), "decision": decisions[k],
                    "features_missing": False, "event_time": times[i], "scored_at": times[-1],
                    "timings": timings,
                }  # fmt: skip
                value = old.encode(record)
            out.append(("predictions", entities[i].encode(), value))
    label_codec = fraud_codec("label", logical_types=False)
    for i, event_id in enumerate(ids):
        label = {"event_id": event_id, "entity_id": entities[i], "label": int(labels[i]),
                 "observed_at": times[i] + 60_000}  # fmt: skip
        out.append(("labels", entities[i].encode(), label_codec.encode(label)))
    return out, Counter(arm.tolist())


@pytest.fixture(scope="module")
def written(kafka: KafkaServer) -> tuple[TopicNames, list[Counter[str]]]:
    topics = TopicNames().prefixed(f"t{uuid.uuid4().hex[:8]}")
    bootstrap = kafka.config.kafka_bootstrap
    create_topics(bootstrap, topics)
    codec = codec_for("prediction", logical_types=False)
    old = AvroCodec(json.loads((SCHEMA_DIR / "released" / "prediction.avsc").read_text()),
                    logical_types=False)  # fmt: skip
    rng = np.random.default_rng(7)
    writer = PredictionWriter(codec)
    better, arms_one = _day(rng, writer, T0, {"primary": 1.5, "canary": 0.2}, old)
    worse, arms_two = _day(rng, writer, T0 + DAY, {"primary": 0.5, "canary": 3.0}, None)
    stray = writer.encode(writer.event_parts(["s-1", "s-2"], ["a", "b"], [T0 + 5, T0 + 6]),
                          [0.1, 0.2], ["approve"] * 2, [False] * 2, "scorer", "3", T0, {
                              "decode_ms": 0, "features_ms": 0, "infer_ms": 1, "publish_ms": 0},
                          role="shadow")  # fmt: skip
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for role, key, value in [*(("predictions", b"a", v) for v in stray), *better, *worse]:
        producer.produce(getattr(topics, role), value, key)
    assert producer.flush(30) == 0
    return topics, [arms_one, arms_two]


def split(kafka: KafkaServer, topics: TopicNames, out: Path, day: str) -> tuple[int, str, Any]:
    env = {f"STREAMSCORE_TOPIC_{role.upper()}": name for role, name in topics}
    result = runner.invoke(
        cli,
        ["report", "shadow", "--split", "--bootstrap", kafka.config.kafka_bootstrap,
         "--out", str(out), "--from", f"{day}T00:00:00Z", "--to", f"{day}T23:59:59Z",
         "--lateness", "0"],
        env=env,
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text()) if result.exit_code == 0 else None
    return result.exit_code, result.output, report


def test_a_better_canary_is_promoted_and_a_worse_one_rolled_back(
    kafka: KafkaServer, written: tuple[TopicNames, list[Counter[str]]], tmp_path: Path
) -> None:
    topics, per_day = written
    for day, arms, verdict in (("2026-09-22", per_day[0], "promote"),
                               ("2026-09-23", per_day[1], "rollback")):  # fmt: skip
        code, output, report = split(kafka, topics, tmp_path / day, day)
        assert code == 0, output
        assert report["mode"] == "split"
        assert (report["primary"], report["canary"]) == ("scorer:1", "scorer:2")
        for arm in ("primary", "canary"):
            figures = report["arms"][arm]
            assert figures["events"] == figures["labelled"] == arms[arm], arm
            assert figures["duplicates"] == 0
        assert 0.15 < arms["canary"] / EVENTS_PER_DAY < 0.35  # the router's 25 %
        assert report["coverage"]["undecodable"] == {"predictions": 0, "labels": 0}
        assert report["coverage"]["other_roles"] == ({"shadow": 2} if verdict == "promote" else {})
        assert report["recommendation"]["verdict"] == verdict, report["recommendation"]["line"]
        assert f"{verdict} canary scorer:2: " in " ".join(output.split())
        assert "Canary A/B split" in (tmp_path / day / "report.html").read_text()
    code, output, _ = split(kafka, topics, tmp_path / "empty", "2026-09-25")
    assert code == 1 and "no primary outputs (role primary) between" in output, output

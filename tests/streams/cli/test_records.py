"""`streamscore produce | consume | simulate` through the CLI, against the real broker."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from typer.testing import CliRunner

from infra.kafka_server import KafkaServer
from schemas.project.records import record_model
from streams.cli import cli
from streams.client import ClientSettings, RecordConsumer
from streams.topics import TopicSpec, ensure_topics
from tests.support.projects import FRAUD

runner = CliRunner()
# The fraud example's records, validated as `produce` validates them.
Event, Label = record_model(FRAUD, "event"), record_model(FRAUD, "label")

EVENTS: list[dict[str, Any]] = [
    {
        "event_id": f"e-{i}",
        "entity_id": f"acct-{i % 3}",
        "event_time": f"2024-05-01T12:00:0{i}.5{i}0+00:00",
        "amount": 10.25 * i - 3,
        "items": i + 1,
        "session_seconds": 30.0 * i,
        "distance_km": 1.5,
        "is_foreign": i % 2 == 1,
        "hour_of_day": i,
        "device_age_days": 40 + i,
        "merchant_risk": 0.125,
        "segment": None if i % 2 else "retail",
    }
    for i in range(6)
]
CSV_HEADER = ",".join(EVENTS[0])


def csv_line(e: dict[str, Any]) -> str:
    cells = [
        "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in e.values()
    ]
    return ",".join(cells)


@pytest.fixture
def bootstrap(kafka: KafkaServer) -> str:
    return kafka.config.kafka_bootstrap


def new_topic(bootstrap: str, partitions: int = 3) -> str:
    name = f"t-cli-{uuid.uuid4().hex[:10]}"
    assert ensure_topics(bootstrap, [TopicSpec(name, partitions)]) == [name]
    return name


def end_offsets(bootstrap: str, topic: str, partitions: int = 3) -> list[int]:
    """High watermarks; a topic just created may need a moment to have its leaders."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex})
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                return [
                    consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for p in range(partitions)
                ]
            except KafkaException:
                if time.monotonic() > deadline:  # e.g. "not leader" while leaders are elected
                    raise
                time.sleep(0.05)
    finally:
        consumer.close()


def consume_jsonl(bootstrap: str, topic: str, *extra: str) -> list[dict[str, Any]]:
    args = ["consume", topic, "--from-beginning", "--until-end", "--bootstrap", bootstrap]
    result = runner.invoke(cli, [*args, "--format", "jsonl", *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def as_events(records: list[dict[str, Any]]) -> list[Any]:
    return sorted((Event.model_validate(r) for r in records), key=lambda e: e.event_id)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_produce_then_consume_round_trips_a_file(
    bootstrap: str, tmp_path: Path, suffix: str
) -> None:
    topic = new_topic(bootstrap)
    path = tmp_path / f"events{suffix}"
    if suffix == ".csv":
        path.write_text("\n".join([CSV_HEADER, *map(csv_line, EVENTS)]) + "\n")
    else:
        path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))

    produced = runner.invoke(
        cli, ["produce", str(path), "--topic", topic, "--bootstrap", bootstrap]
    )

    assert produced.exit_code == 0, produced.output
    assert produced.stdout.startswith("sent 6, failed 0, ")
    assert sum(end_offsets(bootstrap, topic)) == 6
    read = consume_jsonl(bootstrap, topic)
    assert all(r["event_time"].endswith("+00:00") for r in read)  # ISO-8601 strings
    assert as_events(read) == as_events(EVENTS)


def test_produce_reads_stdin_as_jsonl(bootstrap: str) -> None:
    topic = new_topic(bootstrap)
    text = "".join(json.dumps(e) + "\n" for e in EVENTS[:2])
    result = runner.invoke(
        cli, ["produce", "-", "--topic", topic, "--bootstrap", bootstrap], input=text
    )
    assert result.exit_code == 0, result.output
    assert as_events(consume_jsonl(bootstrap, topic)) == as_events(EVENTS[:2])


BAD_FILES = {
    "bad-json": (".jsonl", '{"event_id": "e-9", ', 3, None, "not valid JSON"),
    "missing-field": (".jsonl", {"drop": "amount"}, 3, "amount", "Field required"),
    "wrong-type": (".jsonl", {"amount": "12.5"}, 3, "amount", "Input should be a valid number"),
    "unknown-field": (".jsonl", {"colour": "red"}, 3, "colour", "Extra inputs are not permitted"),
    "bad-csv-cell": (".csv", "items=two", 4, "items", "expected an integer, got 'two'"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_record_sends_nothing_and_names_line_and_field(
    bootstrap: str, tmp_path: Path, case: str
) -> None:
    suffix, bad, line, field, message = BAD_FILES[case]
    good = EVENTS[:2]  # valid records BEFORE the bad one: none of them may be sent
    if suffix == ".csv":
        assert isinstance(bad, str)
        column, cell = bad.split("=")
        row = dict(EVENTS[2], **{column: cell})
        lines = [CSV_HEADER, *map(csv_line, good), csv_line(row), csv_line(EVENTS[3])]
    else:
        if isinstance(bad, dict) and "drop" in bad:
            bad_line = json.dumps({k: v for k, v in EVENTS[2].items() if k != bad["drop"]})
        elif isinstance(bad, dict):
            bad_line = json.dumps({**EVENTS[2], **bad})
        else:
            bad_line = bad
        lines = [*map(json.dumps, good), bad_line, json.dumps(EVENTS[3])]
    path = tmp_path / f"bad{suffix}"
    path.write_text("\n".join(lines) + "\n")
    topic = new_topic(bootstrap)
    before = end_offsets(bootstrap, topic)

    result = runner.invoke(cli, ["produce", str(path), "--topic", topic, "--bootstrap", bootstrap])

    assert result.exit_code == 1
    where = f"line {line}, field '{field}'" if field else f"line {line}"
    assert f"error: {where}: {message}" in result.stderr
    assert "nothing sent: 1 problem(s)" in result.stderr
    assert end_offsets(bootstrap, topic) == before


def test_many_problems_are_capped_with_a_count(bootstrap: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps({**e, "items": -1}) + "\n" for e in EVENTS * 5))
    result = runner.invoke(cli, ["produce", str(path), "--bootstrap", bootstrap])
    assert result.exit_code == 1
    assert result.stderr.count("field 'items'") == 20
    assert "... and 10 more problems" in result.stderr


def test_consume_reports_undecodable_values_and_exits_non_zero(bootstrap: str) -> None:
    topic = new_topic(bootstrap, partitions=1)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, b"\xc3\x01 garbage", b"k")
    producer.flush(10)
    args = ["consume", topic, "--from-beginning", "--until-end", "--bootstrap", bootstrap]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    # a well-formed header naming no schema this package knows: " garbage" as a fingerprint
    fingerprint = b" garbage".hex()
    assert f"undecodable {topic}[0]@0: unknown-schema: fingerprint {fingerprint}" in result.stderr
    assert "1 value(s) could not be decoded" in result.stderr


def test_consume_dedup_drops_repeated_event_ids_and_says_how_many(
    bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic(bootstrap, partitions=1)
    path = tmp_path / "twice.jsonl"
    lines = [json.dumps(e) for e in EVENTS]
    path.write_text("\n".join(lines + lines[:2]) + "\n")  # the first two sent twice
    produce = ["produce", str(path), "--topic", topic, "--bootstrap", bootstrap]
    assert runner.invoke(cli, produce).exit_code == 0
    assert len(consume_jsonl(bootstrap, topic)) == len(EVENTS) + 2
    args = ["consume", topic, "--from-beginning", "--until-end", "--dedup"]
    result = runner.invoke(cli, [*args, "--bootstrap", bootstrap])
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["event_id"] for line in result.stdout.splitlines()]
    assert ids == [e["event_id"] for e in EVENTS]
    assert "dropped 2 duplicate(s) by event_id" in result.stderr


def test_consume_table_format_shows_the_records(bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(bootstrap)
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(EVENTS[1]) + "\n")
    assert (
        runner.invoke(
            cli, ["produce", str(path), "--topic", topic, "--bootstrap", bootstrap]
        ).exit_code
        == 0
    )
    args = ["consume", topic, "--from-beginning", "--limit", "1", "--timeout", "10"]
    result = runner.invoke(cli, [*args, "--format", "table", "--bootstrap", bootstrap])
    assert result.exit_code == 0, result.output
    assert "event_id" in result.stdout and "e-1" in result.stdout and "acct-1" in result.stdout


def test_simulate_sends_n_events_and_their_n_labels(bootstrap: str) -> None:
    events, labels = new_topic(bootstrap), new_topic(bootstrap)
    args = ["simulate", "--rate", "5000", "--count", "300", "--seed", "4", "--entities", "20"]
    args += ["--topic", events, "--labels-topic", labels, "--label-delay", "25"]
    args += ["--drift-at", "150", "--drift-feature", "amount", "--bootstrap", bootstrap]

    result = runner.invoke(cli, args)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sent 300 events and 300 labels, failed 0")
    config = ClientSettings(kafka={"bootstrap": bootstrap})
    got_events = [
        Event.model_validate(r)
        for r in RecordConsumer(config, events, schema="event", from_beginning=True, until_end=True)
    ]
    got_labels = [
        Label.model_validate(r)
        for r in RecordConsumer(config, labels, schema="label", from_beginning=True, until_end=True)
    ]
    assert len(got_events) == len(got_labels) == 300
    assert {e.event_id for e in got_events} == {lb.event_id for lb in got_labels}
    assert {lb.label for lb in got_labels} <= {0, 1}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--count", "5", "--drift-at", "2", "--drift-feature", "colour"], "cannot drift 'colour'"),
        (["--count", "5", "--drift-at", "2"], "needs both --drift-at and --drift-feature"),
        (["--count", "5", "--duration", "1"], "exactly one of --count and --duration"),
        ([], "exactly one of --count and --duration"),
    ],
)
def test_simulate_refuses_bad_options_with_exit_2(options: list[str], message: str) -> None:
    result = runner.invoke(cli, ["simulate", "--rate", "10", *options])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_an_unknown_topic_is_a_clear_error(bootstrap: str, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(EVENTS[0]) + "\n")
    missing = f"t-missing-{uuid.uuid4().hex[:8]}"
    args = ["produce", str(path), "--topic", missing, "--schema", "event"]
    result = runner.invoke(cli, [*args, "--bootstrap", bootstrap])
    assert result.exit_code == 1
    assert f"topic '{missing}' does not exist" in result.stderr

"""Reading JSON Lines and CSV: every problem found, each with its line and field."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.client import input_files
from streams.client.input_files import InputFormat, InputProblem, format_of
from tests.support.projects import FRAUD

GOOD: dict[str, Any] = {
    "event_id": "e-1",
    "entity_id": "acct-1",
    "event_time": "2024-05-01T12:00:00.250Z",
    "amount": 12.5,
    "items": 2,
    "session_seconds": 30.0,
    "distance_km": 1.5,
    "is_foreign": False,
    "hour_of_day": 13,
    "device_age_days": 40,
    "merchant_risk": 0.25,
}
HEADER = ",".join(GOOD) + ",segment"
GOOD_CSV_ROW = "e-1,acct-1,2024-05-01T12:00:00.250Z,12.5,2,30,1.5,false,13,40,0.25,"


def load(stream: io.StringIO, fmt: InputFormat, schema: str = "event") -> Any:
    """The fraud example's records of ``schema`` read from ``stream``."""
    return input_files.load(stream, fmt, FRAUD, schema)


def jsonl(*rows: dict[str, Any] | str) -> io.StringIO:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    return io.StringIO("\n".join(lines) + "\n")


def where(problems: list[InputProblem]) -> list[tuple[int, str | None]]:
    return [(p.line, p.field) for p in problems]


def test_good_jsonl_becomes_codec_ready_records() -> None:
    loaded = load(jsonl(GOOD, "", {**GOOD, "event_id": "e-2", "segment": "retail"}), "jsonl")
    assert loaded.problems == []
    assert [r["event_id"] for r in loaded.records] == ["e-1", "e-2"]
    assert loaded.records[0]["event_time"] == datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert loaded.records[0]["segment"] is None


def test_jsonl_problems_name_line_and_field_and_all_are_collected() -> None:
    missing = {k: v for k, v in GOOD.items() if k != "amount"}
    loaded = load(
        jsonl(
            GOOD,
            '{"event_id": "e-2",',
            {**GOOD, "items": "3"},
            missing,
            {**GOOD, "colour": "red"},
            "[1, 2]",
            {**GOOD, "event_time": "2024-05-01T12:00:00"},
        ),
        "jsonl",
    )
    assert loaded.records != []  # the good line is kept, but the caller must not send it
    assert where(loaded.problems) == [
        (2, None),
        (3, "items"),
        (4, "amount"),
        (5, "colour"),
        (6, None),
        (7, "event_time"),
    ]
    messages = [p.message for p in loaded.problems]
    assert messages[0].startswith("not valid JSON")
    assert messages[1] == "Input should be a valid integer"
    assert messages[2] == "Field required"
    assert messages[3] == "Extra inputs are not permitted"
    assert "UTC offset" in messages[5]
    assert str(loaded.problems[1]) == "line 3, field 'items': Input should be a valid integer"


def test_csv_cells_are_converted_by_the_schema_types() -> None:
    text = f"{HEADER}\n{GOOD_CSV_ROW}\ne-2,acct-2,1714564800000,-1,1,0,0,TRUE,0,0,1,gaming\n"
    loaded = load(io.StringIO(text), "csv")
    assert loaded.problems == []
    first, second = loaded.records
    assert (first["amount"], first["items"], first["is_foreign"]) == (12.5, 2, False)
    assert isinstance(first["session_seconds"], float) and first["segment"] is None
    assert second["event_time"] == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert (second["is_foreign"], second["segment"]) == (True, "gaming")


def test_csv_bad_cells_name_line_and_column_counting_the_header_as_line_one() -> None:
    text = (
        f"{HEADER}\n{GOOD_CSV_ROW}\n"
        "e-2,acct-2,2024-05-01T12:00:00Z,abc,2.5,30,1.5,maybe,13,40,0.25,\n"
        '"e-3\nsplit",acct-3,2024-05-01T12:00:00Z,1,1,1,1,no,24,1,0.5,\n'
        "e-4,acct-4,2024-05-01T12:00:00Z,1,1\n"
    )
    loaded = load(io.StringIO(text), "csv")
    assert where(loaded.problems) == [
        (3, "amount"),
        (3, "items"),
        (3, "is_foreign"),
        (4, "hour_of_day"),
        (6, None),
    ]
    assert loaded.problems[0].message == "expected a number, got 'abc'"
    assert loaded.problems[1].message == "expected an integer, got '2.5'"
    assert loaded.problems[2].message == "expected true or false, got 'maybe'"
    assert loaded.problems[4].message == "5 cells, the header has 12"


def test_csv_header_problems_are_reported_once_on_line_one() -> None:
    header = HEADER.replace("amount", "amnt")
    loaded = load(io.StringIO(f"{header}\n{GOOD_CSV_ROW}\n"), "csv")
    assert loaded.records == []
    assert sorted(where(loaded.problems), key=str) == [(1, "amnt"), (1, "amount")]


def test_labels_validate_against_their_own_schema() -> None:
    good = {"event_id": "e", "entity_id": "a", "label": 1, "observed_at": 0}
    loaded = load(jsonl(good, {**good, "label": 2}), "jsonl", "label")
    assert len(loaded.records) == 1
    assert where(loaded.problems) == [(2, "label")]


def test_format_comes_from_the_option_then_the_suffix() -> None:
    assert format_of(Path("a.CSV"), None) == "csv"
    assert format_of(Path("a.ndjson"), None) == "jsonl"
    assert format_of(Path("a.txt"), "csv") == "csv"
    assert format_of(Path("-"), None) == "jsonl"
    with pytest.raises(ValueError, match="--format"):
        format_of(Path("a.txt"), None)

"""streams/report/reading.py without Kafka: the report's time range from --since / --from /
--to (with "now" pinned), durations, ISO output, and each partition's last value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streams.report import reading
from streams.report.errors import ReportError
from streams.report.reading import TimeRange, iso, last_of, parse_duration

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


class _PinnedDatetime(datetime):
    @classmethod
    def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
        assert tz is UTC
        return NOW


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "datetime", _PinnedDatetime)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1.5h", 5400), ("0.5s", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["", "m", "10", "10x", "-5m", "0s", "0d", "ten m", "5M", "1w", "h2"]
)
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ReportError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["nans", "infh", "1e12d"])
def test_absurd_durations_are_refused_as_report_errors(text: str) -> None:
    with pytest.raises(ReportError):
        TimeRange.parse(text, None, None)


@pytest.mark.parametrize(("since", "seconds"), [("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_since_ends_now(since: str, seconds: int) -> None:
    r = TimeRange.parse(since, None, None)
    assert (r.start_ms, r.end_ms) == (NOW_MS - 1000 * seconds, NOW_MS)


def test_since_with_to_ends_at_to() -> None:
    r = TimeRange.parse("1h", None, "2026-11-28T13:00:00Z")
    assert (r.start_ms, r.end_ms) == (NOW_MS - 3_600_000, NOW_MS + 3_600_000)
    with pytest.raises(ReportError, match="empty"):
        TimeRange.parse("1h", None, "2026-11-28T10:00:00Z")  # before now - 1h


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T10:00:00Z", "2026-11-28T10:00:00+00:00"),
        ("2026-11-28T10:00:00", "2026-11-28T10:00:00+00:00"),  # UTC when no offset is given
        ("2026-11-28T10:00", "2026-11-28T10:00:00+00:00"),
        ("2026-11-28T12:00:00+02:00", "2026-11-28T10:00:00+00:00"),
        ("2026-11-28T05:30:00-04:30", "2026-11-28T10:00:00+00:00"),
        ("2026-11-28T10:00:00.250Z", "2026-11-28T10:00:00.250+00:00"),
        ("2026-11-28", "2026-11-28T00:00:00+00:00"),
    ],
)
def test_from_is_iso_8601_in_utc_unless_an_offset_is_given(text: str, expected: str) -> None:
    r = TimeRange.parse(None, text, None)
    assert (r.start_ms, r.end_ms) == (ms(expected), NOW_MS)


def test_from_and_to() -> None:
    r = TimeRange.parse(None, "2026-09-21T00:00:00Z", "2026-09-23T00:00:00+00:00")
    assert r.end_ms - r.start_ms == 2 * 86_400_000
    assert r.text() == ("2026-09-21T00:00:00Z", "2026-09-23T00:00:00Z")


@pytest.mark.parametrize(
    ("since", "start", "end", "match"),
    [
        ("10m", "2026-11-28T10:00:00Z", None, "not both"),
        (None, None, None, "give a range"),
        (None, None, "2026-11-28T10:00:00Z", "give a range"),
        (None, "2026-11-28T10:00:00Z", "2026-11-28T09:00:00Z", "empty"),
        (None, "2026-11-28T10:00:00Z", "2026-11-28T10:00:00Z", "empty"),
        (None, "2026-11-28T13:00:00Z", None, "empty"),  # from after now
        (None, "yesterday", None, "not a time"),
        (None, "2026-11-28T10:00:00Z", "2026-13-01", "not a time"),
        ("10x", None, None, "not a duration"),
    ],
)
def test_bad_ranges_are_refused(
    since: str | None, start: str | None, end: str | None, match: str
) -> None:
    with pytest.raises(ReportError, match=match):
        TimeRange.parse(since, start, end)


def test_iso() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(NOW_MS) == "2026-11-28T12:00:00Z"
    assert iso(NOW_MS + 250) == "2026-11-28T12:00:00.250Z"
    assert iso(-1000) == "1969-12-31T23:59:59Z"
    assert ms(iso(1_790_000_000_123).replace("Z", "+00:00")) == 1_790_000_000_123


def test_last_of_gives_each_partitions_largest_value() -> None:
    rng = np.random.default_rng(1)
    partitions = rng.integers(0, 6, 500).astype(np.int16)
    values = rng.integers(-(10**12), 10**12, 500)
    parts, last = last_of(partitions, values)
    expected = {int(p): int(values[partitions == p].max()) for p in np.unique(partitions)}
    assert parts == sorted(expected) and last == [expected[p] for p in parts]
    assert all(type(v) is int for v in parts + last)


def test_last_of_small_chunks() -> None:
    assert last_of(np.array([3, 1, 3], np.int16), np.array([7, 9, 5])) == ([1, 3], [9, 7])
    assert last_of(np.array([2], np.int16), np.array([4])) == ([2], [4])

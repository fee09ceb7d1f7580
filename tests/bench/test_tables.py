"""The bench's report, from a made-up run: the latency-target pair and the scale-out rows
reach the main table, the ratios, the terminal and BENCHMARKS.md (no services needed)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from bench import markdown, report
from bench.options import SCALE_KEYS, TARGET_OFF, TARGET_ON, parse
from bench.scale_out import SECTION, scale_ratio, scale_rows
from bench.tables import main_rows, md_table, ratios


def _throughput(rate: float, cores: float = 1.5, workers_cores: float = 1.0) -> dict[str, Any]:
    window_s = 4.0
    events = int(rate * window_s)
    cpu_s = {"kafka": (cores - workers_cores) * window_s, "configuration": workers_cores * window_s}
    return {
        "events_per_s": rate,
        "outputs": events,
        "capped_by": "time",
        "window_s": window_s,
        "window_events": events,
        "cpu_s": cpu_s,
        "cpu_s_per_1k": 1000 * sum(cpu_s.values()) / events,
        "cpu_s_per_1k_by_process": {k: 1000 * v / events for k, v in cpu_s.items()},
        "other_outputs": {},
        "other_cores": 0.01,
    }


def _loads(p99: float, max_rate: float) -> list[dict[str, Any]]:
    return [
        {"fraction": f, "target_rate": f * max_rate, "achieved_rate": f * max_rate,
         "received": 100, "sent": 100, "caught_up": True,
         "latency_ms": {"p50": p99 / 2, "p95": p99 - 1, "p99": p99, "max": p99 + 1}}
        for f in (0.25, 0.5, 0.8)
    ]  # fmt: skip


@pytest.fixture
def results() -> dict[str, Any]:
    configs = {
        "raw": {"title": "raw passthrough", "throughput": _throughput(100_000)},
        TARGET_ON: {
            "title": "StreamScore, librdkafka engine (primary + 1 shadow)",
            "throughput": _throughput(24_000),
            "latency": _loads(20, 24_000),
        },
        TARGET_OFF: {
            "title": "StreamScore, librdkafka engine, fixed N/T (latency target off) "
            "(primary + 1 shadow)",
            "throughput": _throughput(30_000),
            "latency": _loads(43, 30_000),
        },
        SCALE_KEYS[0]: {
            "title": "StreamScore, librdkafka engine, 8 partitions, 1 worker",
            "throughput": _throughput(25_000, 1.6, 1.0),
        },
        SCALE_KEYS[1]: {
            "title": "StreamScore, librdkafka engine, 8 partitions, 2 workers",
            "throughput": _throughput(27_500, 1.9, 1.4),
        },
    }
    options = parse(["--quick"])
    recorded = {
        "quick": True, "events": options.events, "max_seconds": options.max_seconds,
        "latency_seconds": 1.5, "latency_events": 100_000, "component_seconds": 0.5,
        "drain_seconds": 8.0, "entities": 10_000, "batch_size": 512,
        "batch_timeout_ms": 20.0, "drift_pairs": 3, "parts": list(options.parts),
        "worker_settings": {"STREAMSCORE_LATENCY_TARGET_MS": "25"},
    }  # fmt: skip
    return {
        "started_utc": "2026-01-01T00:00:00Z",
        "command": "python -m bench --quick",
        "options": recorded,
        "machine": {"cores": 2, "cores_usable": 2},
        "configurations": configs,
        "errors": {},
    }


def test_target_off_row_follows_the_librdkafka_row(results: dict[str, Any]) -> None:
    titles = [row[0] for row in main_rows(results)[1]]
    on = titles.index(results["configurations"][TARGET_ON]["title"])
    assert titles[on + 1] == results["configurations"][TARGET_OFF]["title"]
    assert main_rows(results)[1][on + 1][1] == "30,000"


def test_ratios_compare_the_target_on_and_off(results: dict[str, Any]) -> None:
    by_name = {r.name: r for r in ratios(results)}
    p99 = by_name["StreamScore (librdkafka) p99 at 50% of max, latency target on vs off"]
    assert p99.value == "20 ms on / 43 ms off (at 12,000 / 15,000 events/s)"
    rate = by_name["StreamScore (librdkafka) events/s, latency target on ÷ off"]
    assert rate.value == "0.80x"
    # The target-off worker is compared with itself on, not held to the goals.
    assert not any("target off" in name for name in by_name)


def test_scale_rows_and_ratio(results: dict[str, Any]) -> None:
    header, rows = scale_rows(results)
    assert [row[0] for row in rows] == [
        "StreamScore, librdkafka engine, 8 partitions, 1 worker",
        "StreamScore, librdkafka engine, 8 partitions, 2 workers",
    ]
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert [c["events/s"] for c in cells] == ["25,000", "27,500"]
    assert [c["cores busy (all)"] for c in cells] == ["1.60", "1.90"]
    assert [c["cores busy (workers)"] for c in cells] == ["1.00", "1.40"]
    assert scale_ratio(results) == pytest.approx(1.1)


def test_a_failed_scale_row_is_shown_and_leaves_no_ratio(results: dict[str, Any]) -> None:
    del results["configurations"][SCALE_KEYS[1]]
    results["errors"][SCALE_KEYS[1]] = "StartTimeout: not ready within 120s"
    _, rows = scale_rows(results)
    assert rows[1][1] == "—" and "failed: StartTimeout" in rows[1][-1]
    assert scale_ratio(results) is None


def test_benchmarks_md_has_the_new_rows_and_section(results: dict[str, Any]) -> None:
    text = markdown.render(results, report.RESULTS_DIR / "20260101T000000Z.json")
    assert "| StreamScore, librdkafka engine, fixed N/T (latency target off)" in text
    assert "latency target on ÷ off | 0.80x |" in text
    assert "`STREAMSCORE_LATENCY_TARGET_MS` =\n  25 ms" in text
    section = text[text.index(SECTION) : text.index("## Where the time goes")]
    assert md_table(scale_rows(results)) in section
    assert "2 workers ÷ 1 worker: **1.10x**" in section
    assert "share this machine's 2 cores with the broker, Redis and Triton" in section


def test_no_scale_section_when_the_part_was_not_run(results: dict[str, Any]) -> None:
    for key in SCALE_KEYS:
        del results["configurations"][key]
    assert SECTION not in markdown.render(results, report.RESULTS_DIR / "x.json")


def test_terminal_report_has_the_new_rows(results: dict[str, Any]) -> None:
    out = io.StringIO()
    report.print_report(results, Console(file=out, width=400))
    text = out.getvalue()
    assert "fixed N/T (latency target off)" in text
    assert "Scale-out, throughput only: 2 workers ÷ 1 worker = 1.10x" in text
    assert "8 partitions, 2 workers" in text

"""The shadow report's HTML page: every section and plot, escaping, undefined figures, and
the page as headless Chromium renders it (no console messages, every plot drawn)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from streams.report.html import render_html
from tests.support.browser import PLOTS, plots_in, render
from tests.support.report_sample import sample_report

MARKS = ("<circle", "<polyline", "<path", "<rect")


def test_full_sample_has_every_section_and_plot() -> None:
    page = render_html(sample_report())
    for heading in [
        "Coverage",
        "Decision agreement",
        "McNemar test",
        "Decision flips",
        "Scores",
        "Latency",
        "Label metrics",
        "Tests of the difference",
        "Segments",
    ]:
        assert heading in page, heading
    assert 'class="banner promote"' in page
    assert "scorer:1" in page and "scorer:2" in page
    plots = plots_in(page)
    assert set(plots) == PLOTS
    for name, seen in plots.items():
        assert seen["title"] == 1, name
        assert seen["marks"] > 5 and seen["text"] > 4, (name, seen)  # drawn, with tick labels
    # Self-contained: nothing fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    assert "No labels in range" not in page


def test_without_labels_a_note_replaces_the_calibration_plot() -> None:
    page = render_html(sample_report(labels=False, segments=False))
    assert "No labels in range" in page
    assert set(plots_in(page)) == PLOTS - {"calibration"}
    assert "No segments in this report" in page


def test_every_text_is_escaped() -> None:
    report = sample_report()
    evil = '<script>alert("x")</script>'
    report["primary"] = f"scorer{evil}:1"
    report["labels"]["models"]["primary"]["ref"] = f"scorer{evil}:1"
    report["latency"]["models"] = {f"scorer{evil}:1": report["latency"]["models"]["scorer:1"]}
    report["recommendation"]["line"] = evil
    report["recommendation"]["reasons"] = [evil]
    report["recommendation"]["thresholds"] = {evil: evil}
    report["segments"][0]["rows"][0]["value"] = evil
    report["segments"][0]["field"] = evil
    report["coverage"]["other_models"] = {evil: 3}
    report["topics"]["events"] = evil
    page = render_html(report)
    assert page.count("<script>") == 1  # the page's own, marking it ready
    assert "&lt;script&gt;" in page


def _nulled(value: Any) -> Any:
    """Every number of a report replaced by null (lists of numbers kept as lists of nulls)."""
    if isinstance(value, dict):
        return {k: _nulled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulled(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None
    return value


def test_undefined_figures_render_as_a_dash() -> None:
    report = sample_report()
    report["coverage"]["shadow_coverage"] = None
    report["decisions"]["mcnemar"]["p_value"] = None
    page = render_html(report)
    assert re.search(r"Shadow coverage \(joined / primary\)</th><td class=\"num\">—<", page)
    assert re.search(r"p-value</th><td class=\"num\">—<", page)
    # Everything undefined at once, every optional part missing: still a page, no NaN.
    nulled = _nulled(sample_report())
    nulled["trend"]["rows"] = nulled["trend"]["rows"][:1]
    page = render_html(nulled)
    assert "—" in page and not re.search(r"\bnan\b", page, re.IGNORECASE)
    assert set(plots_in(page)) == PLOTS
    bare = render_html({"labels": None, "segments": []})
    assert set(plots_in(bare)) == PLOTS - {"calibration"}


def test_few_trend_rows_still_draw() -> None:
    report = sample_report()
    windows: list[dict[str, Any]] = report["trend"]["rows"]
    for few in (0, 1, 2):
        case = copy.deepcopy(report)
        case["trend"]["rows"] = windows[:few]
        seen = plots_in(render_html(case))["agreement-trend"]
        assert seen["marks"] >= (1 if few == 0 else 10) and seen["text"] >= 1, (few, seen)


def test_the_page_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(sample_report()), encoding="utf-8")
    result = render(page, tmp_path / "report.png", window=(1400, 6000))
    assert result.console == [], result.console
    assert 'data-ready="1"' in result.dom
    plots = plots_in(result.dom)
    assert set(plots) == PLOTS
    for name, seen in plots.items():
        assert seen["marks"] > 5, name
    assert result.screenshot.stat().st_size > 50_000


def test_console_messages_and_exceptions_are_caught(tmp_path: Path) -> None:
    page = tmp_path / "noisy.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>noisy</title></head><body>'
        '<script>console.error("x");</script><script>null.boom();</script></body></html>',
        encoding="utf-8",
    )
    result = render(page, tmp_path / "noisy.png", window=(400, 300))
    texts = [m.text for m in result.console]
    assert "x" in texts
    assert [m.text for m in result.exceptions] == [
        "Uncaught TypeError: Cannot read properties of null (reading 'boom')"
    ]

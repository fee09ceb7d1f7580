"""The shadow-mode comparison report as ONE self-contained HTML file.

It works offline: inline CSS, plots as inline SVG drawn here, no fonts, scripts or images
from anywhere (its Content-Security-Policy forbids them). The only script marks the page
ready (`document.body.dataset.ready = "1"`), for a headless browser to check.
"""

from __future__ import annotations

from typing import Any

from streams.report import html_sections as sections
from streams.report import plots, split_views
from streams.report.formats import text, timestamp

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

CSS = """
:root { color-scheme: light; --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb;
  --card: #ffffff; --bg: #f3f4f6; --primary: #2563eb; --shadow: #ea580c; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "Liberation Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 48px; }
header { margin-bottom: 16px; }
.kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: 12px;
  color: var(--muted); }
h1 { margin: 4px 0 8px; font-size: 26px; font-weight: 650; }
h1 .vs { color: var(--muted); font-weight: 400; font-size: 20px; }
h1 .primary { color: var(--primary); } h1 .shadow { color: var(--shadow); }
h2 { font-size: 17px; margin: 0 0 10px; font-weight: 620; }
h3 { font-size: 14px; margin: 16px 0 6px; font-weight: 620; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 28px; margin: 0; color: var(--muted); }
.meta div { display: flex; gap: 6px; } .meta dt { font-weight: 600; } .meta dd { margin: 0; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #e5e7eb; padding: 0 4px; border-radius: 3px; }
.banner { border-radius: 8px; padding: 14px 18px; margin: 0 0 16px; border: 1px solid;
  border-left-width: 6px; }
.banner.promote { background: #ecfdf3; border-color: #16a34a; }
.banner.keep { background: #fffbeb; border-color: #d97706; }
.banner.reject { background: #fef2f2; border-color: #dc2626; }
.banner.unknown { background: #f9fafb; border-color: #9ca3af; }
.verdict { margin: 0; font-size: 12px; font-weight: 700; text-transform: uppercase;
  letter-spacing: .08em; }
.promote .verdict { color: #15803d; } .keep .verdict { color: #b45309; }
.reject .verdict { color: #b91c1c; }
.banner .line { margin: 2px 0 6px; font-size: 17px; font-weight: 600; }
.reasons { margin: 4px 0 8px; padding-left: 20px; }
.thresholds { display: flex; flex-wrap: wrap; gap: 2px 16px; margin: 0; font-size: 12px;
  color: var(--muted); }
.thresholds span { font-weight: 600; } .thresholds div { display: flex; gap: 4px; }
.thresholds dt::after { content: ":"; } .thresholds dd { margin: 0; color: var(--fg); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 18px; margin-bottom: 16px; min-width: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr));
  gap: 16px; margin-bottom: 16px; }
.grid > .card { margin-bottom: 0; }
figure { margin: 0; }
figcaption { font-weight: 620; margin-bottom: 6px; }
svg { display: block; width: 100%; height: auto; }
svg .axis-title { fill: #4b5563; font-weight: 600; }
.big { font-size: 34px; font-weight: 650; margin: 0; font-variant-numeric: tabular-nums; }
.sub, .note { color: var(--muted); margin: 2px 0 8px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums;
  width: 100%; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left;
  white-space: nowrap; }
thead th { color: var(--muted); font-weight: 600; font-size: 12.5px;
  border-bottom: 2px solid #d1d5db; }
tbody th { font-weight: 500; }
.num { text-align: right; } .text { text-align: left; white-space: normal; }
.second { color: var(--muted); font-size: 12px; }
table.kv { width: auto; min-width: 60%; }
.grid table.kv { width: 100%; }
.matrix td.diag { background: #eff6ff; font-weight: 600; }
.matrix td.flip { background: #fff7ed; }
.scroll { overflow-x: auto; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
"""


def _card(body: str) -> str:
    return f'<section class="card">{body}</section>'


def _plot(caption: str, svg: str) -> str:
    return (
        f'<section class="card"><figure><figcaption>{text(caption)}</figcaption>'
        f"{svg}</figure></section>"
    )


def _footer(report: dict[str, Any]) -> str:
    return (
        f"<footer>report.json version {text(report.get('version'))} · generated "
        f"{text(timestamp(report.get('generated_at')))}</footer>"
    )


def _split_body(report: dict[str, Any]) -> list[str]:
    """Split mode (canary A/B): the arms instead of pairs."""
    return [
        split_views.header(report),
        sections.recommendation(report),
        _card(f'<div class="scroll">{split_views.arms_section(report)}</div>'),
        '<div class="grid">',
        _card(split_views.decisions_section(report)),
        _card(split_views.coverage_section(report)),
        "</div>",
        _footer(report),
    ]


def render_html(report: dict[str, Any]) -> str:
    """The report.json dict as one self-contained HTML page."""
    if report.get("mode") == "split":
        title = f"Canary split: {report.get('primary') or '?'} vs {report.get('canary') or '?'}"
        return _page(title, _split_body(report))
    title = f"Shadow comparison: {report.get('primary') or '?'} vs {report.get('shadow') or '?'}"
    if report.get("labels"):
        labelled = [
            '<div class="grid">',
            _card(f'<div class="scroll">{sections.label_metrics(report)}</div>'),
            _plot("Calibration", plots.calibration(report)),
            "</div>",
            _card(f'<div class="scroll">{sections.label_tests(report)}</div>'),
        ]
    else:
        labelled = [_card(sections.label_metrics(report))]
    body = [
        sections.header(report),
        sections.recommendation(report),
        '<div class="grid">',
        _card(sections.coverage(report)),
        _card(sections.decisions(report)),
        "</div>",
        _card(f'<div class="scroll">{sections.flip_matrix(report)}</div>'),
        _card(f'<div class="scroll">{sections.score_deltas(report)}</div>'),
        '<div class="grid">',
        _plot("Shadow vs primary score", plots.scatter(report)),
        _plot("Score delta distribution", plots.delta_histogram(report)),
        _plot("Agreement over time", plots.agreement_trend(report)),
        _plot("Latency distributions", plots.latency(report)),
        "</div>",
        _card(f'<div class="scroll">{sections.latency_table(report)}</div>'),
        *labelled,
        _card(f'<div class="scroll">{sections.segments(report)}</div>'),
        _footer(report),
    ]
    return _page(title, body)


def _page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main>"
        '<script>document.body.dataset.ready = "1";</script>'
        "</body></html>\n"
    )

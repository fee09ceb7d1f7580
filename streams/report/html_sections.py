"""The report's sections as HTML fragments: tables and text, every value escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from streams.report.formats import (
    DASH,
    Cell,
    count,
    dig,
    interval,
    number,
    p_value,
    real,
    share,
    signed,
    table,
    text,
    timestamp,
    with_interval,
)

VERDICT_CLASSES = {
    "promote": "promote", "keep shadowing": "keep", "reject": "reject",
    "keep": "keep", "rollback": "reject",  # split mode's verdicts for a canary
}  # fmt: skip


def header(report: dict[str, Any]) -> str:
    primary, shadow = text(report.get("primary")), text(report.get("shadow"))
    topics = report.get("topics")
    topic_list = ", ".join(
        f"{escape(str(role))}: <code>{text(name)}</code>"
        for role, name in (topics.items() if isinstance(topics, dict) else [])
    )
    return (
        "<header>"
        f'<p class="kicker">Shadow-mode comparison</p>'
        f'<h1><span class="model primary">{primary}</span> <span class="vs">vs</span> '
        f'<span class="model shadow">{shadow}</span></h1>'
        '<dl class="meta">'
        f"<div><dt>Range</dt><dd>{text(timestamp(dig(report, 'range', 'from')))} → "
        f"{text(timestamp(dig(report, 'range', 'to')))}</dd></div>"
        f"<div><dt>Generated</dt><dd>{text(timestamp(report.get('generated_at')))}</dd></div>"
        f"<div><dt>Topics</dt><dd>{topic_list or DASH}</dd></div>"
        "</dl></header>"
    )


def recommendation(report: dict[str, Any]) -> str:
    rec = report.get("recommendation") or {}
    verdict = str(rec.get("verdict") or "no verdict")
    css = VERDICT_CLASSES.get(verdict, "unknown")
    reasons = "".join(f"<li>{text(r)}</li>" for r in rec.get("reasons") or [])
    thresholds = rec.get("thresholds") or {}
    limits = "".join(
        f"<div><dt>{text(k)}</dt><dd>{text(v)}</dd></div>"
        for k, v in (thresholds.items() if isinstance(thresholds, dict) else [])
    )
    return (
        f'<section class="banner {css}" aria-label="recommendation">'
        f'<p class="verdict">{text(verdict)}</p>'
        f'<p class="line">{text(rec.get("line"))}</p>'
        + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
        + (f'<dl class="thresholds"><span>Thresholds</span>{limits}</dl>' if limits else "")
        + "</section>"
    )


def coverage(report: dict[str, Any]) -> str:
    cov = report.get("coverage") or {}
    rows: list[list[Cell]] = [
        ["Primary records", count(cov.get("primary_records"))],
        ["Shadow records", count(cov.get("shadow_records"))],
        ["Joined pairs", count(cov.get("joined"))],
        ["Shadow coverage (joined / primary)", share(cov.get("shadow_coverage"))],
        ["Primary only", count(cov.get("primary_only"))],
        ["Shadow only", count(cov.get("shadow_only"))],
    ]
    for role, n in (dig(cov, "duplicates") or {}).items():
        rows.append([f"Duplicates ({role})", count(n)])
    for source, n in (dig(cov, "undecodable") or {}).items():
        rows.append([f"Undecodable ({source})", count(n)])
    for ref, n in (dig(cov, "other_models") or {}).items():
        rows.append([f"Other model {ref}", count(n)])
    return "<h2>Coverage</h2>" + table(["", "records"], rows, cls="kv")


def decisions(report: dict[str, Any]) -> str:
    dec = report.get("decisions") or {}
    mc = dec.get("mcnemar") or {}
    agreement = (
        f'<p class="big">{text(share(dec.get("agreement")))}</p>'
        f'<p class="sub">95% CI {text(interval(dec.get("agreement_ci"), share))} · '
        f"{text(count(dec.get('agree')))} of {text(count(dec.get('n')))} pairs agree</p>"
    )
    rows: list[list[Cell]] = [
        ["Only primary flags (b)", count(mc.get("b"))],
        ["Only shadow flags (c)", count(mc.get("c"))],
        ["Statistic", number(mc.get("statistic"))],
        ["p-value", p_value(mc.get("p_value"))],
        ["Method", str(mc.get("method") or DASH)],
    ]
    return (
        "<h2>Decision agreement</h2>"
        + agreement
        + "<h3>McNemar test</h3>"
        + '<p class="note">Flags are decisions at or above the second decision; b and c '
        + "count the pairs where only one model flags.</p>"
        + table(["", "value"], rows, cls="kv")
    )


def flip_matrix(report: dict[str, Any]) -> str:
    names = [str(n) for n in dig(report, "decisions", "names") or []]
    flips = dig(report, "decisions", "flips") or []
    rows: list[list[Cell]] = []
    for i, name in enumerate(names):
        row: list[Cell] = [f"{name}"]
        cells = [real(dig(flips, i, j)) for j in range(len(names))]
        total = sum(c for c in cells if c is not None)
        for j, c in enumerate(cells):
            label = count(c)
            if c is not None and total:
                label += f" ({c / total * 100:.1f}%)"
            row.append((label, "diag" if i == j else "flip" if c else ""))
        row.append(count(total) if any(c is not None for c in cells) else DASH)
        rows.append(row)
    headers = ["primary ↓ / shadow →", *names, "total"]
    note = "<p class=\"note\">Rows: the primary's decision; columns: the shadow's. "
    note += "Shares are of the row.</p>"
    return "<h2>Decision flips</h2>" + note + table(headers, rows, cls="matrix")


def score_deltas(report: dict[str, Any]) -> str:
    delta = dig(report, "scores", "delta") or {}
    summary: list[list[Cell]] = [
        ["Mean (95% CI)", with_interval(delta.get("mean"), delta.get("mean_ci"), signed)],
        ["Std deviation", number(delta.get("std"))],
        ["Mean |delta|", number(delta.get("mean_abs"))],
        ["Spearman \N{GREEK SMALL LETTER RHO}", number(dig(report, "scores", "spearman"))],
        ["Pearson r", number(dig(report, "scores", "pearson"))],
    ]
    keys = ["min", "p01", "p05", "p25", "p50", "p75", "p95", "p99", "max"]
    quantiles = table(["", *keys], [["delta", *(signed(delta.get(k)) for k in keys)]])
    return (
        "<h2>Scores</h2>"
        '<p class="note">Deltas are shadow minus primary, over joined pairs.</p>'
        + table(["", "value"], summary, cls="kv")
        + quantiles
    )


def segments(report: dict[str, Any]) -> str:
    parts = ["<h2>Segments</h2>"]
    groups = report.get("segments") or []
    if not groups:
        parts.append('<p class="note">No segments in this report.</p>')
    headers = ["value", "pairs", "agreement", "flipped", "mean Δ", "p05 Δ", "p50 Δ", "p95 Δ"]
    headers.append("Spearman")
    for group in groups:
        rows: list[list[Cell]] = []
        for row in dig(group, "rows") or []:
            flips = dig(row, "flips") or []
            cells = [real(dig(flips, i, j)) for i in range(len(flips)) for j in range(len(flips))]
            off = [c for k, c in enumerate(cells) if k % (len(flips) + 1) != 0 and c is not None]
            rows.append(
                [
                    str(row.get("value") if row.get("value") is not None else DASH),
                    count(row.get("n")),
                    share(row.get("agreement")),
                    count(sum(off)) if flips else DASH,
                    signed(row.get("mean_delta")),
                    signed(row.get("p05_delta")),
                    signed(row.get("p50_delta")),
                    signed(row.get("p95_delta")),
                    number(row.get("spearman")),
                ]
            )
        caption = f"{group.get('field') or '?'} · {group.get('kind') or '?'}"
        caption += f" · from the {group.get('source') or '?'}"
        parts.append(table(headers, rows, caption=caption))
    return "".join(parts)


def latency_table(report: dict[str, Any]) -> str:
    lat = report.get("latency") or {}
    keys = ["n", "mean", "p50", "p90", "p99", "max"]
    rows: list[list[Cell]] = []
    for ref, figures in (lat.get("models") or {}).items():
        stats = dig(figures, "infer_ms") or {}
        rows.append(
            [f"{ref} inference", count(stats.get("n")), *(number(stats.get(k)) for k in keys[1:])]
        )
    e2e = lat.get("end_to_end_ms") or {}
    rows.append(
        ["end to end (primary)", count(e2e.get("n")), *(number(e2e.get(k)) for k in keys[1:])]
    )
    headers = ["", "n", "mean ms", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    return "<h2>Latency</h2>" + table(headers, rows)


def label_metrics(report: dict[str, Any]) -> str:
    labels = report.get("labels")
    if not labels:
        return (
            "<h2>Label metrics</h2>"
            '<p class="note no-labels">No labels in range: no label metrics, no tests of '
            "their difference and no calibration curves.</p>"
        )
    n, positives = real(labels.get("n")), real(labels.get("positives"))
    rate = share(positives / n) if n and positives is not None else DASH
    models = labels.get("models") or {}
    roles = [r for r in ("primary", "shadow") if r in models]
    refs = [f"{dig(models, r, 'ref') or report.get(r) or r} ({r})" for r in roles]
    rows: list[list[Cell]] = [
        [
            "Log loss (95% CI)",
            *(
                with_interval(dig(models, r, "logloss"), dig(models, r, "logloss_ci"), number, "\n")
                for r in roles
            ),
        ],
        [
            "AUC (95% CI)",
            *(
                with_interval(dig(models, r, "auc"), dig(models, r, "auc_ci"), number, "\n")
                for r in roles
            ),
        ],
        ["ECE", *(number(dig(models, r, "ece")) for r in roles)],
    ]
    at = {
        r: {str(dig(t, "decision")): t for t in dig(models, r, "at_thresholds") or []}
        for r in roles
    }
    decisions = list(dict.fromkeys(d for r in roles for d in at[r]))
    for d in decisions:
        limit = next((dig(at, r, d, "threshold") for r in roles if d in at[r]), None)
        for figure in ("precision", "recall"):
            rows.append(
                [
                    f"{figure.capitalize()} at {d} (score ≥ {number(limit)})",
                    *(share(dig(at, r, d, figure)) for r in roles),
                ]
            )
    return (
        "<h2>Label metrics</h2>"
        f'<p class="note">{text(count(n))} labelled pairs, {text(count(positives))} positive '
        f"({text(rate)}).</p>" + table(["", *refs], rows)
    )


def label_tests(report: dict[str, Any]) -> str:
    """The tests of the label metrics' difference; empty without labels."""
    tests: list[list[Cell]] = []
    for metric, test in (dig(report, "labels", "tests") or {}).items():
        tests.append(
            [
                str(metric),
                signed(dig(test, "delta")),
                interval(dig(test, "ci"), signed),
                p_value(dig(test, "p_value")),
                str(dig(test, "method") or DASH),
            ]
        )
    return (
        "<h2>Tests of the difference</h2>"
        '<p class="note">Shadow minus primary, on the labelled pairs.</p>'
        + table(["metric", "delta", "95% CI", "p-value", "method"], tests, text_columns=[4])
    )

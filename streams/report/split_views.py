"""Split mode's report in the terminal and as HTML sections: the two arms side by side, the
canary minus the primary with its unpaired test, and the verdict. The page around the
sections (CSS, the recommendation banner, the footer) is the shadow report's
(streams/report/html.py)."""

from __future__ import annotations

from html import escape
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from streams.report.formats import (
    DASH,
    Cell,
    count,
    dig,
    interval,
    number,
    p_value,
    share,
    signed,
    table,
    text,
    timestamp,
    with_interval,
)
from streams.report.terminal import num

ARMS = ("primary", "canary")
VERDICT_STYLE = {"promote": "bold green", "keep": "bold yellow", "rollback": "bold red"}
# (label, arm figure, its interval, test, how a figure is written)
FIGURES = (
    ("positive rate", "positive_rate", "positive_rate_ci", "positive_rate", share),
    ("error rate", "error_rate", "error_rate_ci", "error_rate", share),
    ("AUC", "auc", "auc_ci", "auc", number),
    ("log loss", "logloss", "logloss_ci", "logloss", number),
)


def summary(report: dict[str, Any]) -> Group:
    """The terminal summary: per arm, the figures; the difference and its p-value."""
    arms, tests = report["arms"], report["tests"]
    span = f"{report['range']['from']} → {report['range']['to']}"
    head = Text.assemble(
        ("split report  ", "bold"), f"{report['primary']} (primary arm) vs ",
        (report["canary"], "bold"), f" (canary arm)   {span}",
    )  # fmt: skip
    grid = Table("", report["primary"], report["canary"], "canary - primary", title_justify="left")
    grid.add_row("events", *(f"{arms[a]['events']:,}" for a in ARMS), "")
    grid.add_row(
        "labelled events",
        *(f"{arms[a]['labelled']:,} ({arms[a]['positives']:,} positive)" for a in ARMS),
        "",
    )
    for label, key, _, test, fmt in FIGURES:
        spec = ".2%" if fmt is share else ".4f"
        delta_spec = "+.2%" if fmt is share else "+.4f"
        grid.add_row(
            label,
            *(num(arms[a][key], spec) for a in ARMS),
            f"{num(tests[test]['delta'], delta_spec)}, p = {num(tests[test]['p_value'], '.3g')}",
        )
    grid.add_row("calibration error", *(num(arms[a]["ece"], ".4f") for a in ARMS), "")
    grid.add_row(
        "model time p99 ms",
        *(num(arms[a]["latency"]["infer_ms"]["p99"], ".3g") for a in ARMS),
        "",
    )
    verdict = report["recommendation"]
    line = Text(verdict["line"], style=VERDICT_STYLE.get(verdict["verdict"], "bold"))
    return Group(head, grid, line)


def header(report: dict[str, Any]) -> str:
    topics = report.get("topics")
    topic_list = ", ".join(
        f"{escape(str(role))}: <code>{text(name)}</code>"
        for role, name in (topics.items() if isinstance(topics, dict) else [])
    )
    return (
        "<header>"
        '<p class="kicker">Canary A/B split</p>'
        f'<h1><span class="model primary">{text(report.get("primary"))}</span> '
        '<span class="vs">vs canary</span> '
        f'<span class="model shadow">{text(report.get("canary"))}</span></h1>'
        '<dl class="meta">'
        f"<div><dt>Range</dt><dd>{text(timestamp(dig(report, 'range', 'from')))} → "
        f"{text(timestamp(dig(report, 'range', 'to')))}</dd></div>"
        f"<div><dt>Generated</dt><dd>{text(timestamp(report.get('generated_at')))}</dd></div>"
        f"<div><dt>Topics</dt><dd>{topic_list or DASH}</dd></div>"
        "</dl></header>"
    )


def arms_section(report: dict[str, Any]) -> str:
    """Both arms' figures with their intervals, and each difference's unpaired test."""
    arms, tests = report.get("arms") or {}, report.get("tests") or {}
    refs = [f"{dig(arms, a, 'ref') or a} ({a} arm)" for a in ARMS]
    rows: list[list[Cell]] = [
        ["Events", *(count(dig(arms, a, "events")) for a in ARMS), "", "", "", ""],
        ["Labelled events", *(count(dig(arms, a, "labelled")) for a in ARMS), "", "", "", ""],
        ["Positive labels", *(count(dig(arms, a, "positives")) for a in ARMS), "", "", "", ""],
    ]
    for label, key, ci, test, fmt in FIGURES:
        result = tests.get(test) or {}
        rows.append([
            f"{label[0].upper()}{label[1:]} (95% CI)",
            *(with_interval(dig(arms, a, key), dig(arms, a, ci), fmt, "\n") for a in ARMS),
            share(result.get("delta")) if fmt is share else signed(result.get("delta")),
            interval(result.get("ci"), share if fmt is share else signed),
            p_value(result.get("p_value")),
            str(result.get("method") or DASH),
        ])  # fmt: skip
    rows.append(["ECE", *(number(dig(arms, a, "ece")) for a in ARMS), "", "", "", ""])
    headers = ["", *refs, "canary - primary", "95% CI", "p-value", "test"]
    note = (
        '<p class="note">Each event was decided by one arm (a sticky share of entities on the '
        "canary): the arms are independent samples, compared with unpaired tests. Error rate: "
        "labelled events where the positive call (the decision that calls an event positive) "
        "disagrees with the label.</p>"
    )
    return "<h2>Arms</h2>" + note + table(headers, rows, text_columns=[6])


def decisions_section(report: dict[str, Any]) -> str:
    """Decisions per arm, and precision and recall of the decisions taken."""
    arms = report.get("arms") or {}
    names = list(dict.fromkeys(n for a in ARMS for n in dig(arms, a, "decisions") or {}))
    rows: list[list[Cell]] = [
        [name, *(count(dig(arms, a, "decisions", name)) for a in ARMS)] for name in names
    ]
    flags = [str(dig(arms, "primary", "at_decisions", i, "decision"))
             for i in range(len(dig(arms, "primary", "at_decisions") or []))]  # fmt: skip
    for i, flag in enumerate(flags):
        for figure in ("precision", "recall"):
            rows.append([
                f"{figure.capitalize()} of {flag}",
                *(with_interval(dig(arms, a, "at_decisions", i, figure),
                                dig(arms, a, "at_decisions", i, f"{figure}_ci"), share, "\n")
                  for a in ARMS),
            ])  # fmt: skip
    rows.append([
        "Model time p99 ms", *(number(dig(arms, a, "latency", "infer_ms", "p99")) for a in ARMS)
    ])  # fmt: skip
    return "<h2>Decisions per arm</h2>" + table(["", *ARMS], rows)


def coverage_section(report: dict[str, Any]) -> str:
    cov = report.get("coverage") or {}
    rows: list[list[Cell]] = [
        ["Records of the two arms' models", count(cov.get("records"))],
        ["Out of range", count(cov.get("out_of_range"))],
    ]
    for arm in ARMS:
        rows.append([f"Duplicates ({arm} arm)", count(dig(report, "arms", arm, "duplicates"))])
    for source, n in (dig(cov, "undecodable") or {}).items():
        rows.append([f"Undecodable ({source})", count(n)])
    for ref, n in (dig(cov, "other_models") or {}).items():
        rows.append([f"Other model {ref}", count(n)])
    for role, n in (dig(cov, "other_roles") or {}).items():
        rows.append([f"Other role {role}", count(n)])
    return "<h2>Coverage</h2>" + table(["", "records"], rows, cls="kv")

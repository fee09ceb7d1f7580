"""The report's summary in the terminal: the figures an operator reads first, and the verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"promote": "bold green", "keep shadowing": "bold yellow", "reject": "bold red"}


def num(x: float | None, spec: str = ".4f") -> str:
    """A figure, or a dash when it is undefined."""
    return "—" if x is None else format(x, spec)


def _share(x: float | None) -> str:
    return "—" if x is None else f"{x:.2%}"


def summary(report: dict[str, Any]) -> Group:
    cov, dec, delta = report["coverage"], report["decisions"], report["scores"]["delta"]
    span = f"{report['range']['from']} → {report['range']['to']}"
    head = Text.assemble(
        ("shadow report  ", "bold"), f"{report['primary']} (primary) vs ",
        (report["shadow"], "bold"), f" (shadow)   {span}",
    )  # fmt: skip
    table = Table("", report["primary"], report["shadow"], "shadow - primary", title_justify="left")
    table.add_row(
        "outputs in range", f"{cov['primary_records']:,}", f"{cov['shadow_records']:,}", ""
    )
    table.add_row(
        "joined pairs", f"{cov['joined']:,}", _share(cov["shadow_coverage"]) + " of primary",
        f"primary only {cov['primary_only']:,} · shadow only {cov['shadow_only']:,}",
    )  # fmt: skip
    ci = dec["agreement_ci"]
    table.add_row(
        "same decision", _share(dec["agreement"]),
        f"95% CI {_share(ci[0])}-{_share(ci[1])}" if ci else "",
        f"McNemar p = {num(dec['mcnemar']['p_value'], '.3g')}",
    )  # fmt: skip
    table.add_row(
        "score delta", f"mean {num(delta['mean'], '+.4f')}",
        f"p05 {num(delta['p05'], '+.4f')} · p95 {num(delta['p95'], '+.4f')}",
        f"Spearman {num(report['scores']['spearman'])}",
    )  # fmt: skip
    latency = report["latency"]["models"]
    table.add_row(
        "model time p99 ms", num(latency[report["primary"]]["infer_ms"]["p99"], ".3g"),
        num(latency[report["shadow"]]["infer_ms"]["p99"], ".3g"), "",
    )  # fmt: skip
    labels = report.get("labels")
    if labels:
        p, s = labels["models"]["primary"], labels["models"]["shadow"]
        tests = labels["tests"]
        for name, key, test in (
            ("log loss", "logloss", tests["logloss"]),
            ("AUC", "auc", tests["auc"]),
        ):
            table.add_row(
                f"{name} ({labels['n']:,} labels)", num(p[key]), num(s[key]),
                f"{num(test['delta'], '+.4f')}, p = {num(test['p_value'], '.3g')}",
            )  # fmt: skip
        table.add_row("calibration error", num(p["ece"]), num(s["ece"]), "")
    else:
        table.add_row("labels", "none in range", "", "")
    verdict = report["recommendation"]
    line = Text(verdict["line"], style=VERDICT_STYLE.get(verdict["verdict"], "bold"))
    return Group(head, table, line)

"""What the Grafana dashboard reads: its panels, and the metric names in their PromQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
PROMQL_WORDS |= {"and", "or", "unless", "inf", "nan"}


def dashboard_panels(path: Path) -> list[dict[str, Any]]:
    panels = json.loads(path.read_text())["panels"]
    return [p for panel in panels for p in [panel, *panel.get("panels", [])] if "targets" in p]


def metrics_and_groupings(expr: str) -> tuple[set[str], set[str]]:
    """The metric (series) names an expression reads and the labels it groups by."""
    grouped = {
        label.strip()
        for labels in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
        for label in labels.split(",")
    }
    bare = re.sub(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)', " ", expr)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare)) - PROMQL_WORDS
    return names, grouped


def dashboard_reads(path: Path) -> dict[str, set[str]]:
    """Every series name the dashboard reads → the labels it groups that series by."""
    reads: dict[str, set[str]] = {}
    for panel in dashboard_panels(path):
        for target in panel["targets"]:
            names, grouped = metrics_and_groupings(target["expr"])
            assert names, f"{panel['title']}: {target['expr']} reads no metric"
            for name in names:
                reads.setdefault(name, set()).update(grouped)
    return reads


def exposed(text: str) -> dict[str, set[str]]:
    """Series name → label names, from a Prometheus text exposition (/metrics)."""
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?", line)
        if match:
            labels = set(re.findall(r'(\w+)="', match.group(2) or ""))
            found.setdefault(match.group(1), set()).update(labels)
    return found

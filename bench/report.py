"""The results on the terminal (rich) and as a JSON file under bench/results/."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.detail_tables import (
    component_rows,
    cpu_rows,
    drift_run_rows,
    stage_rows,
    triton_rows,
)
from bench.options import DRIFT_PARTS, WORKER_KEYS
from bench.scale_out import scale_ratio, scale_rows
from bench.tables import (
    WORKER_LABELS,
    Rows,
    footnotes,
    main_rows,
    ratios,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
HANDWRITTEN_FROM = "## Before/after"  # BENCHMARKS.md from there on is written by hand
MAKE_TARGETS = {"python -m bench": "make bench", "python -m bench --quick": "make bench-quick"}


def _rich(title: str, table: Rows) -> Table:
    header, rows = table
    out = Table(title=title, title_justify="left", show_lines=False)
    for i, name in enumerate(header):
        out.add_column(name, justify="left" if i == 0 or name == "notes" else "right")
    for row in rows:
        out.add_row(*row)
    return out


def print_report(results: dict[str, Any], console: Console) -> None:
    console.rule("results")
    console.print(_rich("Throughput, CPU and latency", main_rows(results)))
    console.print(footnotes(results), highlight=False)
    tables = [("CPU by process tree, per 1,000 events", cpu_rows(results))]
    for key in WORKER_KEYS:
        name = WORKER_LABELS[key]
        tables.append(
            (f"{name}: stages (worker /metrics, throughput run)", stage_rows(results, key))
        )
        tables.append((f"{name}: Triton per model (throughput run)", triton_rows(results, key)))
    for part, (worker, _, _) in DRIFT_PARTS.items():
        tables.append(
            (f"{WORKER_LABELS[worker]}: drift monitoring off and on, every run ({part})",
             drift_run_rows(results, part))
        )  # fmt: skip
    ratio = scale_ratio(results)
    tables.append(
        ("Scale-out, throughput only"
         + ("" if ratio is None else f": 2 workers ÷ 1 worker = {ratio:.2f}x"),
         scale_rows(results))
    )  # fmt: skip
    tables.append(("Components alone", component_rows(results)))
    for title, table in tables:
        if table[1]:
            console.print(_rich(title, table))
    ratio_table = Table(title="Ratios and goals", title_justify="left")
    for name in ("ratio", "value", "goal", "status"):
        ratio_table.add_column(name)
    for r in ratios(results):
        style = {"missed": "red", "met": "green", "met (stretch met)": "green"}.get(r.status, "")
        ratio_table.add_row(
            r.name, r.value, r.goal, f"[{style}]{r.status}[/]" if style else r.status
        )
    console.print(ratio_table)


def write_json(results: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = results["started_utc"].replace(":", "").replace("-", "")
    path = directory / f"{stamp}.json"
    document = {**results, "ratios": [dataclasses.asdict(r) for r in ratios(results)]}
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    return path

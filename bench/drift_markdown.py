"""BENCHMARKS.md's drift part: the "Drift monitoring overhead" section, one block per drift
pair between markers, and the splice with which a drift-only run (``python -m bench --only
drift``) rewrites just its rows and its block, each saying which command measured it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.detail_tables import drift_run_rows
from bench.options import DRIFT_PARTS
from bench.report import HANDWRITTEN_FROM, MAKE_TARGETS, ROOT
from bench.tables import (
    DRIFT_GOAL,
    WORKER_LABELS,
    drift_main_rows,
    drift_pair_ratios,
    drift_ratio,
    drift_share,
    md_table,
)

DRIFT_SECTION = "## Drift monitoring overhead"


def _drift_parts(results: dict[str, Any]) -> list[str]:
    """The drift parts this run measured (or tried to)."""
    configs, errors = results["configurations"], results["errors"]
    return [
        part
        for part, (_, off, on) in DRIFT_PARTS.items()
        if any(k in configs or k in errors for k in (off, on))
    ]


def _begin(part: str) -> str:
    return f"<!-- bench:{part} -->"


def _end(part: str) -> str:
    return f"<!-- /bench:{part} -->"


def drift_block(results: dict[str, Any], json_path: Path, part: str) -> list[str]:
    """One drift pair's part of the section, between markers a drift-only run replaces."""
    o = results["options"]
    worker = DRIFT_PARTS[part][0]
    command = results["command"]
    how = MAKE_TARGETS.get(command)
    produced = f"`{how}` (`{command}`)" if how else f"`{command}`"
    ratio = drift_ratio(results, part)
    pairs = drift_pair_ratios(results, part)
    share = drift_share(results, part)
    runs = o.get("drift_pairs", 0)
    spread = ""
    if pairs:
        spread = f"; each pair alone: {', '.join(f'{r:.3f}' for r in pairs)}"
        off, on = (results["configurations"].get(k, {}) for k in DRIFT_PARTS[part][1:])
        rate_off = (off.get("throughput") or {}).get("events_per_s")
        rate_on = (on.get("throughput") or {}).get("events_per_s")
        if rate_off and rate_on:
            spread += f"; the ratio of the two medians, pairs mixed: {rate_on / rate_off:.3f}"
    if share is not None:
        spread += (
            f'. Counting took {share:.1%} of the worker\'s wall time in the median "on" run: '
            f"by itself it can bring on ÷ off down to 1 ÷ (1 + {share:.3f}) = "
            f"{1 / (1 + share):.3f}, not lower; the rest of any gap is the shared machine"
        )
    return [
        _begin(part),
        f"### {WORKER_LABELS.get(worker, worker)}",
        "",
        f"Measured by {produced} on {results['started_utc']} (raw results: "
        f"`{json_path.relative_to(ROOT)}`): the worker (primary + 1 shadow) with "
        "`STREAMSCORE_DRIFT_ENABLED=false` and `=true`, "
        f"{runs} runs each at maximum throughput, interleaved off, on, on, off, … ; each run "
        "reads the pre-filled topic from the start with a group of its own and stops like "
        f"every throughput run ({o['events']:,} outputs or {o['max_seconds']:g} s). "
        "On ÷ off, the median of the pairs' ratios (each pair runs in the same minute, so its "
        "ratio cancels what the shared host did to both): "
        f"**{ratio.value.split(' ')[0]}**, goal {ratio.goal}: "
        f"{ratio.status}{spread}. The bench checks every run: drift on, the worker published "
        "window summaries "
        "(`streamscore_drift_summaries_total` > 0) and counted every event "
        "(`streamscore_drift_unmonitored_total` = 0); drift off, it published none. "
        "A run failing the check fails its configuration and is left out of the medians. "
        'The drift columns are `streamscore_stage_seconds{stage="drift"}` (counting a '
        "scored batch into the window histograms, in the scoring loop) over the run.",
        "",
        md_table(drift_run_rows(results, part)),
        "",
        _end(part),
        "",
    ]


def drift_section(results: dict[str, Any], json_path: Path) -> list[str]:
    parts = _drift_parts(results)
    if not parts:
        return []
    lines = [
        DRIFT_SECTION,
        "",
        f"Goal: drift monitoring keeps up with scoring, on ÷ off ≥ {DRIFT_GOAL:g} at the "
        "maximum throughput (the librdkafka engine's is the one that counts).",
        "",
    ]
    for part in parts:
        lines += drift_block(results, json_path, part)
    return lines


def splice_drift(old: str, results: dict[str, Any], json_path: Path) -> str:
    """``old`` with the rows and section of the drift pairs of ``results`` replaced (or
    added), each saying which command measured it; the rest of ``old`` as it was."""
    lines = old.splitlines()
    source = (
        f"measured by `{results['command']}` on {results['started_utc']}, not by the command "
        "above (see Drift monitoring overhead)"
    )
    for part in _drift_parts(results):
        # Main table: this pair's rows, and the placeholders from before drift existed.
        rows = drift_main_rows(results, part, source)
        titles = {r[0] for r in rows} | {
            "StreamScore, drift monitoring off",
            "StreamScore, drift monitoring on",
        }
        new = _row_lines(rows)
        where = [i for i, line in enumerate(lines) if _first_cell(line) in titles]
        at = where[0] if where else _table_end(lines, "## Results")
        lines = [line for i, line in enumerate(lines) if i not in set(where)]
        lines[at:at] = new
        # Ratios: this pair's row, by name.
        ratio = drift_ratio(results, part)
        row = _row_lines([[ratio.name, f"{ratio.value}; {source}", ratio.goal, ratio.status]])[0]
        where = [i for i, line in enumerate(lines) if _first_cell(line) == ratio.name]
        if where:
            lines[where[0]] = row
        else:
            lines.insert(_table_end(lines, "## Ratios and goals"), row)
        # Section: this pair's block.
        block = drift_block(results, json_path, part)[:-1]
        if _begin(part) in lines and _end(part) in lines:
            a, b = lines.index(_begin(part)), lines.index(_end(part))
            lines[a : b + 1] = block
        elif DRIFT_SECTION in lines:
            at = _section_end(lines, DRIFT_SECTION)
            lines[at:at] = [*block, ""]
        else:
            at = _find(lines, "## Where the time goes", HANDWRITTEN_FROM)
            lines[at:at] = drift_section(results, json_path)
    return "\n".join(lines) + "\n"


def _row_lines(rows: list[list[str]]) -> list[str]:
    return md_table((["-"] * (len(rows[0]) if rows else 1), rows)).splitlines()[2:]


def _first_cell(line: str) -> str | None:
    if not line.startswith("| "):
        return None
    return line[2:].split(" | ", 1)[0]


def _find(lines: list[str], *headings: str) -> int:
    """The index of the first of ``headings`` found (in that order of preference), else the end."""
    for heading in headings:
        if heading in lines:
            return lines.index(heading)
    return len(lines)


def _table_end(lines: list[str], heading: str) -> int:
    """Just after the last row of the first table under ``heading``."""
    i = _find(lines, heading)
    while i < len(lines) and not lines[i].startswith("|"):
        i += 1
    while i < len(lines) and lines[i].startswith("|"):
        i += 1
    return i


def _section_end(lines: list[str], heading: str) -> int:
    i = _find(lines, heading) + 1
    while i < len(lines) and not lines[i].startswith("## "):
        i += 1
    return i


def drift_only(results: dict[str, Any]) -> bool:
    parts = set(results["options"].get("parts", ()))
    return bool(parts) and parts <= set(DRIFT_PARTS)

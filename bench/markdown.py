"""BENCHMARKS.md, rewritten by every run from its results (the JSON has everything).

A run of drift pairs only (``python -m bench --only drift``) rewrites only their rows (main
table, ratios) and their part of "Drift monitoring overhead", each saying which command
measured it; everything else in the file stays as the run that wrote it left it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.options import DRIFT_PARTS, WORKER_KEYS
from bench.report import BENCHMARKS_MD, MAKE_TARGETS, ROOT
from bench.tables import (
    DRIFT_GOAL,
    WORKER_LABELS,
    component_rows,
    cpu_rows,
    drift_main_rows,
    drift_pair_ratios,
    drift_ratio,
    drift_run_rows,
    drift_share,
    footnotes,
    latency_rows,
    main_rows,
    md_table,
    ratios,
    stage_rows,
    triton_rows,
)

METHOD = """\
- Everything runs on this one machine: the broker, Redis, Triton (with its Python-backend
  stub) and the configuration under test share the cores, as do the bench's own load
  generator and watcher. Only ratios between configurations of the same run travel to other
  machines.
- Same broker, topic layout (4 partitions) and events for every configuration: one topic is
  pre-filled with {events:,} simulated events ({entities:,} entities, their features in Redis),
  then each configuration reads it from the beginning with its own consumer group and writes
  to its own output topics, created with `message.timestamp.type=LogAppendTime`.
- **events/s**: outputs from the first to the last by the broker's LogAppendTime; a run stops
  after {events:,} outputs or {max_seconds:g} s after the first, whichever comes first (the
  notes say which configurations stopped by time).
- **CPU-s / 1k events**: utime + stime from /proc of every process tree involved (broker JVM,
  redis-server, tritonserver and its stubs, the configuration's own tree), sampled at the first
  output and at the end of the run, divided by the outputs in between.
- **latency**: a fresh instance on an empty topic; the bench sends events stamped
  `event_time = now` at 25 %, 50 % and 80 % of that configuration's measured maximum,
  {latency_seconds:g} s or {latency_events:,} events each, whichever is shorter, after a
  discarded warm-up at the first load's rate; latency =
  output LogAppendTime - event_time (ms resolution). The events topic keeps LogAppendTime
  too, so "way in" (in the latency detail) is the part spent between the bench's producer
  and the broker: on two shared cores the load generator is part of the system measured.
- Before each configuration the bench times a fixed pure-Python loop: on this shared virtual
  machine the host can slow everything down without it showing as busy CPU; a note flags a
  configuration measured while the host ran more than 15 % slower than at its fastest.
- Micro-batch N = {batch_size}, T = {batch_timeout_ms:g} ms for the worker, the raw passthrough's
  `consume(num_messages=N, timeout=T)` and the Faust passthrough's `noack_take(N, within=T)`.
  Producers wait for `acks=all` with 2 ms linger everywhere.
"""


def render(results: dict[str, Any], json_path: Path) -> str:
    o = results["options"]
    m = results.get("machine", {})
    pk = m.get("packages", {})
    command = results["command"]
    how = MAKE_TARGETS.get(command)
    produced = f"`{how}` (`{command}`)" if how else f"`{command}`"
    sections = [
        "# Benchmarks",
        "",
        f"Produced by {produced} on {results['started_utc']} in {results.get('seconds', 0):.0f} s; "
        f"the raw results are in `{json_path.relative_to(ROOT)}` "
        "(bench/results/ is not committed). "
        "Every run of `make bench` or `make bench-quick` rewrites this file; "
        "`python -m bench --only drift` rewrites only the drift monitoring rows and section, "
        "saying so beside them.",
        "",
        "## Machine",
        "",
        f"- CPU: {m.get('cpu', '?')}, {m.get('cores', '?')} cores "
        f"({m.get('cores_usable', '?')} usable), {m.get('memory_gib', '?')} GiB memory, "
        f"Linux {m.get('kernel', '?')}",
        f"- Python {m.get('python', '?')}; Apache Kafka {m.get('kafka', '?')} (KRaft, one node); "
        f"Redis {m.get('redis', '?')}; Triton {m.get('triton', '?')} (nvidia-pytriton "
        f"{pk.get('nvidia-pytriton', '?')}, Python backend, CPU)",
        f"- librdkafka {m.get('librdkafka', '?')} "
        f"(confluent-kafka {pk.get('confluent-kafka', '?')}), "
        f"faust-streaming {pk.get('faust-streaming', '?')} on aiokafka {pk.get('aiokafka', '?')}, "
        f"redis-py {pk.get('redis', '?')} with hiredis {pk.get('hiredis', '?')}, "
        f"tritonclient {pk.get('tritonclient', '?')}, torch {pk.get('torch', '?')}, "
        f"fastavro {pk.get('fastavro', '?')}",
        f"- Other processes kept {results.get('background_cores_before', 0.0):.2f} cores busy "
        'just before the run (see the "other processes" columns for during it).',
        "",
        "## How it was measured",
        "",
        METHOD.format(**o),
        "## Results",
        "",
        md_table(main_rows(results)),
        "",
        footnotes(results).replace("\n", "  \n"),
        "",
        "## Ratios and goals",
        "",
        md_table(
            (
                ["ratio", "value", "goal", "status"],
                [[r.name, r.value, r.goal, r.status] for r in ratios(results)],
            )
        ),
        "",
        *drift_section(results, json_path),
        "## Where the time goes",
        "",
        "CPU by process tree, per 1,000 events (throughput runs):",
        "",
        md_table(cpu_rows(results)),
        "",
    ]
    for key in WORKER_KEYS:
        stages = stage_rows(results, key)
        if stages[1]:
            sections += [
                f"{WORKER_LABELS[key]}: worker stages (`streamscore_stage_seconds`, over the "
                "throughput run). Decode, features, infer, encode and drift (counting the batch "
                "into drift window histograms, drift monitoring on) run one after another in "
                "the scoring loop; publishing runs in the background while the next batches are "
                "scored, so its share can pass 100 %:",
                "",
                md_table(stages),
                "",
            ]
        tri = triton_rows(results, key)
        if tri[1]:
            sections += [f"{WORKER_LABELS[key]}: Triton over the same run:", "", md_table(tri), ""]
    comps = component_rows(results)
    if comps[1]:
        sections += [
            f"## Components alone (batch {o['batch_size']})",
            "",
            "Redis rows include turning the replies into the float32 matrix the model takes.",
            "",
            md_table(comps),
            "",
        ]
    sections += [
        "## Latency detail",
        "",
        md_table(latency_rows(results)),
        "",
        HANDWRITTEN_PLACEHOLDER,
    ]
    if results.get("errors"):
        sections += ["## Errors in this run", ""]
        sections += [f"- {k}: {v}" for k, v in results["errors"].items()] + [""]
    return "\n".join(sections)


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


# The sections people write (before/after, scaling) survive every rewrite.
HANDWRITTEN_FROM = "## Before/after"
HANDWRITTEN_PLACEHOLDER = (
    f"{HANDWRITTEN_FROM}\n\n_The numbers before and after each optimisation, by hand._\n\n"
    "## How it scales\n\n_On paper, by hand._\n"
)


def write(results: dict[str, Any], json_path: Path, path: Path = BENCHMARKS_MD) -> Path:
    old = path.read_text() if path.exists() else ""
    if drift_only(results) and "## Results" in old:
        path.write_text(splice_drift(old, results, json_path))
        return path
    text = render(results, json_path)
    if HANDWRITTEN_FROM in old:
        kept = old[old.index(HANDWRITTEN_FROM) :]
        text = text.replace(HANDWRITTEN_PLACEHOLDER, kept.rstrip() + "\n")
    path.write_text(text)
    return path

"""BENCHMARKS.md, rewritten by every run from its results (the JSON has everything).

A run of drift pairs only (``python -m bench --only drift``) rewrites only their rows (main
table, ratios) and their part of "Drift monitoring overhead", each saying which command
measured it; everything else in the file stays as the run that wrote it left it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.detail_tables import component_rows, cpu_rows, latency_rows, stage_rows, triton_rows
from bench.drift_markdown import drift_only, drift_section, splice_drift
from bench.options import WORKER_KEYS
from bench.report import BENCHMARKS_MD, HANDWRITTEN_FROM, MAKE_TARGETS, ROOT
from bench.scale_out import scale_section
from bench.tables import (
    WORKER_LABELS,
    footnotes,
    main_rows,
    md_table,
    ratios,
)

METHOD = """\
- Everything runs on this one machine: the broker, Redis, Triton (with its Python-backend
  stub) and the configuration under test share the cores, as do the bench's own load
  generator and watcher. Only ratios between configurations of the same run travel to other
  machines.
- Same broker, topic layout (4 partitions) and events for every configuration (scale-out
  aside, below): one topic is
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
- The librdkafka worker holds its p99 latency target (`STREAMSCORE_LATENCY_TARGET_MS` =
  {latency_target} ms): before each take it chooses a batch cap up to N and a linger up to T
  from what it measures, and takes N at once under more load than the target allows. The
  "fixed N/T (latency target off)" row is the same worker with the target set to 0: fixed N
  and no linger.
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
        METHOD.format(
            **o, latency_target=o["worker_settings"].get("STREAMSCORE_LATENCY_TARGET_MS", "?")
        ),
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
        *scale_section(results),
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
                "throughput run): decode, features, infer, encode and drift (counting the batch "
                "into drift window histograms, drift monitoring on). Decode and features of the "
                "next batch run while the model server scores this one, and publishing runs in "
                "the background while the next batches are scored, so the shares can sum past "
                "100 % (a stage's time then includes waiting for the event loop while another "
                'stage runs, and "outside scoring" shows 0):',
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


# The sections people write (before/after, scaling) survive every rewrite.
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

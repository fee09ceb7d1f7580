"""The supporting tables: where the time goes (CPU by process tree, worker stages, Triton per
model), latency per load, every run of a drift pair, and the components measured alone. Rows
as in bench/tables.py."""

from __future__ import annotations

from typing import Any

from bench.options import CONFIG_KEYS, DRIFT_KEYS, DRIFT_PARTS
from bench.scrape import STAGES
from bench.tables import Rows


def cpu_rows(results: dict[str, Any]) -> Rows:
    groups = ["kafka", "redis", "triton", "configuration"]
    header = ["configuration", *(f"{g} CPU-s/1k" for g in groups), "total"]
    header += ["cores used", "other processes (cores)"]
    rows = []
    for key in CONFIG_KEYS:
        t = results["configurations"].get(key, {}).get("throughput")
        if t:
            by = t["cpu_s_per_1k_by_process"]
            used = sum(t["cpu_s"].values()) / t["window_s"] if t["window_s"] else 0.0
            rows.append(
                [key, *(f"{by.get(g, 0.0):.3f}" for g in groups), f"{t['cpu_s_per_1k']:.3f}",
                 f"{used:.2f}", f"{t.get('other_cores', 0.0):.2f}"]
            )  # fmt: skip
    return header, rows


def latency_rows(results: dict[str, Any]) -> Rows:
    header = ["configuration", "load", "asked events/s", "sent events/s", "outputs",
              "p50 ms", "p95 ms", "p99 ms", "max ms", "way in p50 / p99 ms", "kept up",
              "other processes (cores)"]  # fmt: skip
    rows = []
    for key in (*CONFIG_KEYS, *DRIFT_KEYS):
        for load in results["configurations"].get(key, {}).get("latency", []):
            lat = load["latency_ms"]
            rows.append(
                [key, f"{load['fraction']:.0%}", f"{load['target_rate']:,.0f}",
                 f"{load['achieved_rate']:,.0f}", _received(load),
                 *(f"{lat.get(p, 0):.0f}" for p in ("p50", "p95", "p99", "max")),
                 _way_in(load),
                 "yes" if load["caught_up"] else "no", f"{load.get('other_cores', 0.0):.2f}"]
            )  # fmt: skip
    return header, rows


def stage_rows(results: dict[str, Any], key: str = "streamscore") -> Rows:
    worker = results["configurations"].get(key, {}).get("worker")
    header = ["stage", "ms per batch", "µs per event", "share of wall time"]
    if not worker:
        return header, []
    rows = []
    # Runs saved before the drift stage existed lack it; a worker not counting drift has 0.
    stages = [st for st in STAGES if worker["stages"].get(st, {}).get("seconds") or st != "drift"]
    for stage in stages:
        s = worker["stages"][stage]
        name = stage if stage != "publish" else "publish (until acked; overlaps the scoring)"
        rows.append(
            [name, f"{s['ms_per_batch']:.2f}", f"{s['us_per_event']:.1f}",
             f"{s['share_of_wall']:.0%}"]
        )  # fmt: skip
    events, wall = worker["events"] or 1.0, worker["window_s"] or 1.0
    scoring = sum(s["seconds"] for name, s in worker["stages"].items() if name != "publish")
    outside = max(wall - scoring, 0.0)
    rows.insert(
        stages.index("publish"),
        [f"= scoring ({' + '.join(stages[: stages.index('publish')])})", "",
         f"{1e6 * scoring / events:.1f}", f"{scoring / wall:.0%}"],
    )  # fmt: skip
    rows.append(
        ["outside scoring (taking and acking batches, publish slots, event loop)", "",
         f"{1e6 * outside / events:.1f}", f"{outside / wall:.0%}"]
    )  # fmt: skip
    rows.append(["mean batch", f"{worker['mean_batch']:.0f} events", "", ""])
    return header, rows


def triton_rows(results: dict[str, Any], key: str = "streamscore") -> Rows:
    entry = results["configurations"].get(key, {})
    header = ["model", "requests", "rows / request", "requests / execution",
              "client ms / request", "server µs / request", "queued µs", "compute µs"]  # fmt: skip
    rows = []
    client = entry.get("worker", {}).get("infer_per_model", {})
    for model, m in entry.get("triton", {}).items():
        rows.append(
            [model, f"{m['requests']:,.0f}", f"{m['rows_per_request']:.0f}",
             f"{m['requests_per_execution']:.2f}",
             f"{client.get(model, {}).get('ms_per_request', 0.0):.2f}",
             f"{m['request_us']:.0f}", f"{m['queue_us']:.0f}", f"{m['compute_us']:.0f}"]
        )  # fmt: skip
    return header, rows


def _way_in(load: dict[str, Any]) -> str:
    w = load.get("to_broker_ms") or {}
    return f"{w['p50']:.0f} / {w['p99']:.0f}" if w else "—"


def _received(load: dict[str, Any]) -> str:
    approx = "≈" if load.get("sample_step", 1) > 1 else ""
    return f"{approx}{load['received']:,} / {load['sent']:,}"


def drift_run_rows(results: dict[str, Any], part: str) -> Rows:
    """Every run of one drift pair, in the order run, with the drift counting's own time
    (``streamscore_stage_seconds{stage="drift"}``) and the sanity counters."""
    header = ["run", "configuration", "events/s", "CPU-s / 1k events", "drift ms / batch",
              "drift µs / event", "drift share of wall", "mean batch", "summaries published",
              "events unmonitored", "other processes (cores)", "host probe"]  # fmt: skip
    runs = []
    for key in DRIFT_PARTS[part][1:]:
        for r in results["configurations"].get(key, {}).get("runs", []):
            runs.append((r["pair"], key, r))
    runs.sort(key=lambda x: x[2].get("order", 0))  # as they ran: off, on, on, off, …
    probes = [r["speed_probe_s"] for _, _, r in runs if r.get("speed_probe_s")]
    fastest = min(probes, default=0.0)
    rows = []
    for n, (_, key, r) in enumerate(runs, 1):
        t = r.get("throughput")
        w = r.get("worker") or {}
        stage = w.get("stages", {}).get("drift", {})
        counted = bool(stage.get("seconds"))
        d = r.get("drift") or {}
        probe = r.get("speed_probe_s", 0.0)
        rows.append(
            [str(n), key.rsplit("-", 1)[-1] + (" (failed)" if "error" in r else ""),
             f"{t['events_per_s']:,.0f}" if t else "—",
             f"{t['cpu_s_per_1k']:.3f}" if t else "—",
             f"{stage['ms_per_batch']:.3f}" if counted else "—",
             f"{stage['us_per_event']:.2f}" if counted else "—",
             f"{stage['share_of_wall']:.1%}" if counted else "—",
             f"{w['mean_batch']:.0f}" if w else "—",
             f"{d['summaries']:,.0f}" if "summaries" in d else "—",
             f"{d['unmonitored']:,.0f}" if "unmonitored" in d else "—",
             f"{t.get('other_cores', 0.0):.2f}" if t else "—",
             f"+{probe / fastest - 1:.0%}" if fastest and probe else "—"]
        )  # fmt: skip
    return header, rows


def component_rows(results: dict[str, Any]) -> Rows:
    header = ["component", "rows per call", "rows/s", "ms per call"]
    rows = [
        [c["name"], str(c["batch"]), f"{c['rows_per_s']:,.0f}", f"{c['ms_per_batch']:.3f}"]
        for c in results.get("components", [])
    ]
    return header, rows

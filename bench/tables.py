"""The results as rows: the main table, the supporting ones, and the ratios against the goals.

Plain lists of strings, so the terminal (rich) and BENCHMARKS.md (markdown) show the same.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench.options import (
    CONFIG_KEYS,
    DRIFT_PARTS,
    LOAD_FRACTIONS,
    TARGET_OFF,
    TARGET_ON,
    WORKER_KEYS,
)

Rows = tuple[list[str], list[list[str]]]

DRIFT_GOAL = 0.95  # drift on ÷ off, at the maximum throughput


def footnotes(results: dict[str, Any]) -> str:
    drain = results["options"].get("drain_seconds", 15.0)
    return (
        f"† fell behind at that load: outputs were still queued {drain:g} s after it ended "
        "(its percentiles miss them).\n"
        "‡ the bench could not send that fast (it shares the cores): the machine was saturated."
    )


@dataclass(frozen=True, slots=True)
class Ratio:
    name: str
    value: str
    goal: str
    status: str


def _rate(results: dict[str, Any], key: str) -> float | None:
    rate = results["configurations"].get(key, {}).get("throughput", {}).get("events_per_s")
    return float(rate) if rate else None


def _load(results: dict[str, Any], key: str, fraction: float) -> dict[str, Any] | None:
    for load in results["configurations"].get(key, {}).get("latency", []):
        if abs(load["fraction"] - fraction) < 1e-9:
            return dict(load)
    return None


WORKER_LABELS = {
    "streamscore": "StreamScore",
    TARGET_ON: "StreamScore (librdkafka)",
    TARGET_OFF: "StreamScore (librdkafka, latency target off)",
}


def drift_part(worker_key: str) -> str | None:
    """The drift part (bench/options.py) that varies ``worker_key``."""
    return next((part for part, (w, _, _) in DRIFT_PARTS.items() if w == worker_key), None)


def drift_ratio(results: dict[str, Any], part: str) -> Ratio:
    """Drift on ÷ off for one pair part: the median of the per-pair ratios. Each "on" run
    shares its minute with its "off" run, so its ratio cancels what the shared host did to
    both; the ratio of the two medians (shown beside it) mixes pairs run minutes apart, which
    on these cores differ by more than the effect measured. "n/a" when the part was not run,
    "failed" when a run of either side failed (its sanity check included)."""
    worker, off_key, on_key = DRIFT_PARTS[part]
    name = f"{WORKER_LABELS.get(worker, worker)} drift on ÷ off"
    goal = f"≥ {DRIFT_GOAL:g}"
    configs = results["configurations"]
    if off_key not in configs and on_key not in configs:
        return Ratio(name, "n/a", goal, "n/a (not run)")
    pairs = drift_pair_ratios(results, part)
    value = float(statistics.median(pairs)) if pairs else None
    shown = "n/a" if value is None else f"{value:.3f}"
    if value is not None:
        off, on = _rate(results, off_key), _rate(results, on_key)
        of_medians = f"; ratio of the medians {on / off:.3f}" if on and off else ""
        shown += f" (median of {len(pairs)} interleaved pairs{of_medians})"
    failed = off_key in results["errors"] or on_key in results["errors"]
    return Ratio(name, shown, goal, "failed" if failed else _met(value, DRIFT_GOAL, True))


def _runs(results: dict[str, Any], key: str) -> int:
    t = results["configurations"].get(key, {}).get("throughput") or {}
    return int(t.get("runs", 0))


def target_ratios(results: dict[str, Any]) -> list[Ratio]:
    """The librdkafka worker with its latency target on against off: the p99 at 50 % of each
    one's own maximum (so at somewhat different loads, both named), and the maximum
    throughput on ÷ off. None when neither was run."""
    if not {TARGET_ON, TARGET_OFF} & {*results["configurations"], *results["errors"]}:
        return []
    name = WORKER_LABELS[TARGET_ON]
    on, off = (_load(results, k, 0.5) for k in (TARGET_ON, TARGET_OFF))
    p99 = "n/a"
    if on and off and on["latency_ms"] and off["latency_ms"]:
        p99 = (
            f"{on['latency_ms']['p99']:.0f} ms on / {off['latency_ms']['p99']:.0f} ms off "
            f"(at {on['target_rate']:,.0f} / {off['target_rate']:,.0f} events/s)"
        )
    rate_on, rate_off = _rate(results, TARGET_ON), _rate(results, TARGET_OFF)
    return [
        Ratio(f"{name} p99 at 50% of max, latency target on vs off", p99, "—", "—"),
        Ratio(
            f"{name} events/s, latency target on ÷ off",
            _x(rate_on / rate_off if rate_on and rate_off else None),
            "—",
            "—",
        ),
    ]


def ratios(results: dict[str, Any]) -> list[Ratio]:
    """The goals, for the shipped worker and for each other worker variant measured (the
    librdkafka worker with its latency target off only against itself with it on)."""
    configs = results["configurations"]

    def measured(key: str) -> bool:  # the worker, or its drift pair
        part = drift_part(key)
        return any(k in configs for k in (key, *(DRIFT_PARTS[part][1:] if part else ())))

    present = [k for k in WORKER_KEYS if k != TARGET_OFF and measured(k)] or ["streamscore"]
    out = []
    for key in present:
        name = WORKER_LABELS.get(key, key)
        ss = _rate(results, key)

        def over(base_key: str, ss: float | None = ss) -> float | None:
            base = _rate(results, base_key)
            return ss / base if ss and base else None

        raw = over("raw")
        raw_status = "n/a" if raw is None else (
            "met (stretch met)" if raw >= 0.5 else "met" if raw >= 0.3 else "missed"
        )  # fmt: skip
        out.append(Ratio(f"{name} ÷ raw passthrough", _x(raw), "≥ 0.3 (stretch 0.5)", raw_status))
        out.append(Ratio(f"{name} ÷ Faust passthrough", _x(over("faust")), "—", "—"))
        naive = over("naive")
        out.append(Ratio(f"{name} ÷ naive pipeline", _x(naive), "≥ 20", _met(naive, 20, True)))
        part = drift_part(key)
        if part is not None:
            out.append(drift_ratio(results, part))
        half = _load(results, key, 0.5)
        p99 = half["latency_ms"].get("p99") if half else None
        out.append(
            Ratio(
                f"{name} p99 at 50% of max",
                "n/a" if p99 is None else f"{p99:.0f} ms",
                "≤ 25 ms",
                _met(p99, 25.0, False),
            )
        )
    return out + target_ratios(results)


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _met(value: float | None, goal: float, at_least: bool) -> str:
    if value is None:
        return "n/a"
    return "met" if (value >= goal if at_least else value <= goal) else "missed"


def _latency_cell(load: dict[str, Any] | None) -> str:
    if not load or not load["latency_ms"]:
        return "—"
    lat = load["latency_ms"]
    mark = "" if load["caught_up"] else " †"
    mark += "" if load.get("generator_kept_up", True) else " ‡"
    return f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f}{mark}"


def main_rows(results: dict[str, Any]) -> Rows:
    header = ["configuration", "events/s", "CPU-s / 1k events"]
    header += [f"p50 / p95 / p99 ms @{f:.0%}" for f in LOAD_FRACTIONS] + ["notes"]
    rows = []
    probes = [
        e["speed_probe_s"] for e in results["configurations"].values() if e.get("speed_probe_s")
    ]
    fastest = min(probes, default=0.0)
    for key in CONFIG_KEYS:
        entry = _measured(results, key)
        if entry is None:
            continue
        t = entry.get("throughput")
        notes = []
        if key in results["errors"]:
            notes.append("failed: " + results["errors"][key][:80])
        probe = entry.get("speed_probe_s", 0.0)
        if fastest and probe > 1.15 * fastest:
            notes.append(f"host {probe / fastest - 1:.0%} slower before this run (probe)")
        if t:
            if t["capped_by"] == "time":
                notes.append(f"capped by time: {t['outputs']:,} events")
            shadow = {k: v for k, v in t["other_outputs"].items() if k.endswith("shadow")}
            for count in shadow.values():
                notes.append(f"+{count:,} shadow outputs")
        rows.append(
            [
                entry.get("title", key),
                f"{t['events_per_s']:,.0f}" if t else "—",
                f"{t['cpu_s_per_1k']:.3f}" if t else "—",
                *(_latency_cell(_load(results, key, f)) for f in LOAD_FRACTIONS),
                "; ".join(notes),
            ]
        )
    for part in DRIFT_PARTS:
        rows += drift_main_rows(results, part)
    return header, rows


def _measured(results: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A configuration's entry ({} when it failed before measuring); None when not run."""
    entry = results["configurations"].get(key)
    if entry is None and key not in results["errors"]:
        return None
    return dict(entry or {})


def drift_main_rows(results: dict[str, Any], part: str, source: str = "") -> list[list[str]]:
    """The main table's rows of one drift pair, medians of its runs; none when it was not
    run. ``source`` (the command that measured them) goes in the notes when it differs from
    the one that produced the rest of the table."""
    rows = []
    for key in DRIFT_PARTS[part][1:]:
        entry = _measured(results, key)
        if entry is None:
            continue
        t = entry.get("throughput")
        notes = []
        if t:
            each = " / ".join(f"{r:,.0f}" for r in t["median_of"])
            runs = f"median of {t['runs']} interleaved runs" if t["runs"] > 1 else "1 run"
            notes.append(f"{runs} ({each} events/s)")
        if key in results["errors"]:
            notes.append("failed: " + results["errors"][key][:120])
        if source:
            notes.append(source)
        rows.append(
            [
                entry.get("title", key),
                f"{t['events_per_s']:,.0f}" if t else "—",
                f"{t['cpu_s_per_1k']:.3f}" if t else "—",
                *(_latency_cell(_load(results, key, f)) for f in LOAD_FRACTIONS),
                "; ".join(notes),
            ]
        )
    return rows


def drift_pair_ratios(results: dict[str, Any], part: str) -> list[float]:
    """On ÷ off of each pair on its own (the spread the median smooths)."""
    _, off_key, on_key = DRIFT_PARTS[part]
    by_pair: dict[int, dict[str, float]] = {}
    for key in (off_key, on_key):
        for r in results["configurations"].get(key, {}).get("runs", []):
            if r.get("throughput") and "error" not in r:
                by_pair.setdefault(r["pair"], {})[key] = r["throughput"]["events_per_s"]
    return [
        rates[on_key] / rates[off_key]
        for _, rates in sorted(by_pair.items())
        if rates.get(on_key) and rates.get(off_key)
    ]


def drift_share(results: dict[str, Any], part: str) -> float | None:
    """The median share of the worker's wall time spent counting drift, over the "on" runs:
    at most what drift monitoring can take off the maximum throughput (1 ÷ (1 + share))."""
    on_key = DRIFT_PARTS[part][2]
    shares = [
        r["worker"]["stages"]["drift"]["share_of_wall"]
        for r in results["configurations"].get(on_key, {}).get("runs", [])
        if "error" not in r and r.get("worker", {}).get("stages", {}).get("drift")
    ]
    return float(statistics.median(shares)) if shares else None


def md_table(table: Rows) -> str:
    header, rows = table
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)

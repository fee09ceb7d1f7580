"""Drift monitoring's cost: the worker with it off and on, run interleaved, and the check
that each run measured what it claims (bench/harness.py runs the parts; bench/tables.py and
bench/drift_markdown.py report them)."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

from bench import cpu
from bench.configs import CONFIGURATIONS, available
from bench.options import DRIFT_PARTS

if TYPE_CHECKING:
    from bench.harness import Run


def drift_parts(run: Run, results: dict[str, Any]) -> None:
    """Every drift part the run's options ask for whose settings this worker has."""
    for part, (_, off_key, on_key) in DRIFT_PARTS.items():
        if part not in run.options.parts:
            continue
        if not all(available(CONFIGURATIONS[k]) for k in (off_key, on_key)):
            run.say(f"{part}: the worker has no such setting here; skipped")
            continue
        run.console.rule(f"drift monitoring off and on: {part}, {run.options.drift_pairs} pairs")
        drift_pair(run, part, results)


def drift_pair(run: Run, part: str, results: dict[str, Any]) -> None:
    """The worker with drift monitoring off and on, ``drift_pairs`` times each, interleaved
    (off, on, on, off, …: neither side always runs first); the medians go in the entries.
    A run that fails (the drift sanity check included) counts as an error of its side."""
    o = run.options
    _, off_key, on_key = DRIFT_PARTS[part]
    pair = (CONFIGURATIONS[off_key], CONFIGURATIONS[on_key])
    entries: dict[str, dict[str, Any]] = {}
    for config in pair:
        entries[config.key] = results["configurations"].setdefault(config.key, {})
        entries[config.key].update(title=config.title, runs=[])
    began, order = time.monotonic(), 0
    for i in range(o.drift_pairs):
        for config in pair if i % 2 == 0 else pair[::-1]:
            order += 1
            run_out: dict[str, Any] = {"pair": i + 1, "order": order}
            entries[config.key]["runs"].append(run_out)
            try:
                run_out["speed_probe_s"] = cpu.speed_probe()
                result = run.run_throughput(config, run_out, tag=f"-{i + 1}")
                stage = run_out.get("worker", {}).get("stages", {}).get("drift", {})
                run.said(
                    f"{config.key} (pair {i + 1})",
                    result,
                    f"; drift counting {stage.get('ms_per_batch', 0.0):.2f} ms per batch"
                    if stage.get("seconds")
                    else "",
                )
            except Exception as exc:
                run_out["error"] = message = f"{type(exc).__name__}: {exc}"
                _add_error(results, config.key, message)
                run.say(f"[red]{config.key} (pair {i + 1}): {exc}[/]")
    for config in pair:
        entry = entries[config.key]
        entry["throughput"] = _medians(entry["runs"])
        rate = entry["throughput"]["events_per_s"] if entry["throughput"] else 0.0
        if part == "drift" and rate > 0:  # latency once, at loads of the median maximum
            try:
                entry["latency"] = run.run_latency(config, rate)
            except Exception as exc:
                message = f"latency: {type(exc).__name__}: {exc}"
                _add_error(results, config.key, message)
                run.say(f"[red]{config.key}: {message}[/]")
    off, on = (entries[c.key]["throughput"] for c in pair)
    if off and on and off["events_per_s"]:
        run.say(
            f"[bold]{part}[/]: median {on['events_per_s']:,.0f} on / "
            f"{off['events_per_s']:,.0f} off = {on['events_per_s'] / off['events_per_s']:.3f}"
        )
    for config in pair:
        entries[config.key]["bench_seconds"] = round(time.monotonic() - began, 1)


def _add_error(results: dict[str, Any], key: str, message: str) -> None:
    errors = results["errors"]
    errors[key] = "; ".join(filter(None, [errors.get(key), message]))


def check_drift(enabled: bool, counts: dict[str, float]) -> None:
    """A worker counting drift published summaries, all its events counted (the primary has
    a reference); one not counting published none. Otherwise the pair compares nothing."""
    summaries, unmonitored = counts["summaries"], counts["unmonitored"]
    if enabled and (summaries <= 0 or unmonitored > 0):
        raise RuntimeError(
            f"drift sanity check: drift on, yet {summaries:.0f} summaries published and "
            f"{unmonitored:.0f} events unmonitored (want > 0 and 0)"
        )
    if not enabled and summaries > 0:
        raise RuntimeError(
            f"drift sanity check: drift off, yet {summaries:.0f} summaries published (want 0)"
        )


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The median of each figure over the runs that succeeded, as a configuration's
    ``throughput``; None when none did."""
    good = [r["throughput"] for r in runs if "throughput" in r and "error" not in r]
    if not good:
        return None

    def median(name: str) -> float:
        return float(statistics.median(t[name] for t in good))

    return {
        "events_per_s": median("events_per_s"),
        "cpu_s_per_1k": median("cpu_s_per_1k"),
        "outputs": int(median("outputs")),
        "capped_by": "time" if any(t["capped_by"] == "time" for t in good) else "count",
        "other_cores": median("other_cores"),
        "runs": len(good),
        "median_of": [t["events_per_s"] for t in good],
    }

"""The calibration table that `streamscore drift calibrate` prints (drift/calibration.py runs
the streams).

Two parts:

* the configured detectors and policy, end to end: what the drift agent's state raised on
  each stream, alerts and retraining requests, and how long after the onset the first alert
  naming the changed column, and the first request, came;
* the grid: each stream's closed windows replayed through a fresh
  :class:`~drift.monitor.Monitor` with ONE setting of :data:`GRID` changed, counting only
  that detector's findings (and, for the stationary stream, the requests a
  :class:`~drift.policy.RetrainingPolicy` would make of them alone).

A delay is counted in windows (1 = the window the onset falls in, half of it changed) and in
events from the onset until the alert is raised: the window's end plus the allowed lateness,
when the watermark closes it. ADWIN reads the score's PSI, so its detection names the score.
"""

from __future__ import annotations

import os
import platform
import time
from collections import Counter
from dataclasses import dataclass, field

import torch

from drift.calibration import BATCH, OUTAGE_SHARE, RATE, SIGMA, Calibration, StreamResult
from drift.monitor import Monitor
from drift.policy import RetrainingPolicy
from drift.reference import SCORE
from drift.stats import ks, psi
from infra.config import Section
from streams.simulation.simulator import field_sigma, generator_of

# detector, the DetectorConfig field it is tuned by, the values tried (the configured one too)
GRID: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("psi", "psi_threshold", (0.05, 0.1, 0.15, 0.2, 0.3)),
    ("ks", "ks_min_statistic", (0.03, 0.05, 0.1, 0.15)),
    ("adwin", "adwin_delta", (0.0002, 0.002, 0.02, 0.2)),
    ("page_hinkley", "page_hinkley_threshold", (0.05, 0.2, 0.5)),
    ("share", "missing_share_threshold", (0.1, 0.2, 0.3)),
)


@dataclass(frozen=True, slots=True)
class Delay:
    windows: int
    events: int


def summary(delays: list[Delay | None]) -> str:
    """One cell for the delays of one stream over the seeds: the range of windows, the
    worst number of events, and how many seeds saw nothing."""
    found = [d for d in delays if d is not None]
    if not found:
        return "—"
    lo, hi = min(d.windows for d in found), max(d.windows for d in found)
    worst = max(d.events for d in found)
    text = f"{hi} w / {worst:,} ev" if lo == hi else f"{lo}-{hi} w / ≤ {worst:,} ev"
    missed = len(delays) - len(found)
    return f"{text} ({missed} of {len(delays)} seeds: none)" if missed else text


@dataclass(slots=True)
class GridRow:
    detector: str
    setting: str
    value: float
    configured: bool
    false_windows: int = 0
    windows: int = 0
    requests: int = 0
    columns: Counter[str] = field(default_factory=Counter)
    delays: dict[str, list[Delay | None]] = field(default_factory=dict)


def first_after_onset(cal: Calibration, result: StreamResult, hits: list[bool]) -> Delay | None:
    """The first closed window ending after the onset with a hit, as a :class:`Delay`."""
    onset = cal.onset_ms(result.scenario)
    if onset is None:
        return None
    n = 0
    for closed, hit in zip(result.closed, hits, strict=True):
        if closed.window.end_ms <= onset:
            continue
        n += 1
        if hit:
            raised = cal.window.closes_at(closed.window.start_ms)
            return Delay(n, int((raised - onset) * RATE / 1000))
    return None


def _target(detector: str, result: StreamResult) -> str | None:
    scenario = result.scenario
    return SCORE if detector == "adwin" and scenario.drift is not None else scenario.target


def replay(cal: Calibration, result: StreamResult, detector: str, setting: str, value: float
           ) -> tuple[list[set[str]], int]:  # fmt: skip
    """Per closed window, the columns ``detector`` named with ``setting = value``; and the
    requests the policy would make of those findings alone."""
    monitor = Monitor(cal.reference, cal.detectors.model_copy(update={setting: value}))
    policy = RetrainingPolicy(cal.policy)
    named, requests = [], 0
    for closed in result.closed:
        w = closed.window
        found = [f for f in monitor.evaluate(w) if f.detector == detector]
        named.append({f.feature for f in found})
        worthy = [f"{f.feature}:{f.detector}" for f in found if f.retrain]
        now_s = cal.window.closes_at(w.start_ms) / 1000.0
        requests += policy.observe(w.start_ms, w.events, worthy, now_s) is not None
    return named, requests


def grid(cal: Calibration) -> list[GridRow]:
    rows = []
    for detector, setting, values in GRID:
        configured = float(getattr(cal.detectors, setting))
        for value in sorted({*values, configured}):
            row = GridRow(detector, setting, value, value == configured)
            for result in cal.streams:
                named, requests = replay(cal, result, detector, setting, value)
                if result.scenario.onset is None:
                    row.false_windows += sum(map(bool, named))
                    row.windows += len(named)
                    row.requests += requests
                    row.columns.update(c for names in named for c in names)
                    continue
                target = _target(detector, result)
                delay = first_after_onset(cal, result, [target in names for names in named])
                row.delays.setdefault(result.scenario.name, []).append(delay)
            rows.append(row)
    return rows


def stationary_maxima(cal: Calibration) -> tuple[list[tuple[float, str]], tuple[float, str]]:
    """The largest PSIs (top three columns) and KS statistic of any stationary window."""
    ref, best_psi, best_ks = cal.reference, dict.fromkeys(cal.reference.names, 0.0), (0.0, "")
    for result in cal.streams:
        if result.scenario.onset is not None:
            continue
        for closed in result.closed:
            for i, column in enumerate(ref.names):
                b = ref.bins_of(i)
                counts = closed.window.counts[i, :b]
                best_psi[column] = max(best_psi[column], psi(ref.counts[i, :b], counts)[0])
                best_ks = max(best_ks, (ks(ref.counts[i, :b], counts)[0], column))
    top = sorted(((v, c) for c, v in best_psi.items()), reverse=True)[:3]
    return top, best_ks


def machine() -> str:
    return (
        f"{os.cpu_count()} CPU cores, {platform.system()} {platform.machine()}, Python "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} "
        "threads)"
    )


def _changed(*sections: Section) -> list[str]:
    """``VARIABLE=value`` of each setting that differs from its default."""
    out = []
    for section in sections:
        default, names = type(section)(), type(section).env_names()
        for name in type(section).model_fields:
            if getattr(section, name) != getattr(default, name):
                out.append(f"{names[name]}={getattr(section, name)}")
    return out


def _by_scenario(cal: Calibration) -> dict[str, list[StreamResult]]:
    out: dict[str, list[StreamResult]] = {}
    for result in cal.streams:
        out.setdefault(result.scenario.name, []).append(result)
    return out


def _e2e(cal: Calibration) -> list[str]:
    lines = [
        "| stream | events | windows | alerts (by column:detector) | alerts before onset | "
        "requests | first alert naming the target | first request |",
        "| --- | ---: | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for name, results in _by_scenario(cal).items():
        s, closed = results[0].scenario, [c for r in results for c in r.closed]
        onset = cal.onset_ms(s)
        by = Counter(f"{f.feature}:{f.detector}" for c in closed for f in c.findings)
        alerts = f"{sum(by.values())}: " + (
            ", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "none"
        )
        early = sum(
            len(c.findings) for c in closed if onset is not None and c.window.end_ms <= onset
        )
        first_alert = [
            first_after_onset(cal, r, [any(f.feature == s.target for f in c.findings)
                                       for c in r.closed])
            for r in results
        ]  # fmt: skip
        first_request = [
            first_after_onset(cal, r, [c.request is not None for c in r.closed]) for r in results
        ]
        requests = sum(c.request is not None for c in closed)
        cells = ("n/a", "n/a", "n/a") if onset is None else (
            str(early), summary(first_alert), summary(first_request))  # fmt: skip
        lines.append(
            f"| {name} | {s.events * len(results):,} | {len(closed):,} | {alerts} | {cells[0]} | "
            f"{requests} | {cells[1]} | {cells[2]} |"
        )
    return lines


def render(cal: Calibration, command: str) -> str:
    """The whole table, as markdown (the grid is computed here: its time is counted)."""
    began = time.perf_counter()
    rows = grid(cal)
    seconds = cal.seconds + time.perf_counter() - began
    per_window = cal.window_events
    onset = next(s.scenario.onset for s in cal.streams if s.scenario.onset is not None)
    sigma = field_sigma(cal.project, generator_of(cal.project))[cal.feature]
    changed = _changed(cal.window, cal.detectors, cal.policy)
    top_psi, top_ks = stationary_maxima(cal)
    names = [n for n, r in _by_scenario(cal).items() if r[0].scenario.onset is not None]
    seeds = f"{cal.seeds[0]}" if len(cal.seeds) == 1 else f"{cal.seeds[0]}..{cal.seeds[-1]}"
    head = [
        f"Produced by `{command}` in {seconds:.0f} s on {machine()}.",
        "",
        f"Project {cal.project.name}, model {cal.model[0]}:{cal.model[1]} (its starter); every "
        "stream once per "
        f"seed {seeds} (each seed its own {cal.entities:,} entities and events); "
        f"{RATE:,.0f} events/s of event time; {cal.window.size_s:g} s tumbling windows "
        f"({per_window:,} events), {cal.window.allowed_lateness_s:g} s allowed lateness; "
        f"batches of {BATCH}. Settings: {', '.join(changed) or 'all defaults'}. Shifts move "
        f"`{cal.feature}` up by 0.5, 1 and 2 {SIGMA} ({SIGMA} = {sigma:.4f}) from event "
        f"{onset:,}, mid-window after {cal.warmup} warm-up windows; a gradual one ramps over "
        f"{2 * per_window:,} events. The outage scores {OUTAGE_SHARE:.0%} of events with "
        f"default entity features from the onset. Each changing stream runs {cal.horizon} "
        "windows past the onset's.",
        "",
        "**Configured detectors and policy, end to end** (sums over the seeds; delays: the "
        "range over the seeds, in windows (1 = the onset's window) / the most events from "
        "the onset until it was raised)",
        "",
        *_e2e(cal),
        "",
        "**Per detector and threshold** (the closed windows above, replayed with one setting "
        "changed). Stationary: windows with an alert of that detector, the three columns it "
        "named most, and the requests it alone would raise under the policy. Changing "
        "streams: the first alert naming the changed column (ADWIN: the score), as above; "
        "— = none.",
        "",
        "| detector | setting | stationary: alerting windows | named | requests | "
        + " | ".join(names)
        + " |",
        "| --- | --- | ---: | --- | ---: |" + " --- |" * len(names),
    ]
    for row in rows:
        mark = f"**{row.value:g}** (set)" if row.configured else f"{row.value:g}"
        named = ", ".join(c for c, _ in row.columns.most_common(3)) or "-"
        cells = " | ".join(summary(row.delays[n]) for n in names)
        head.append(
            f"| {row.detector} | {row.setting} = {mark} | {row.false_windows:,} / "
            f"{row.windows:,} | {named} | {row.requests} | {cells} |"
        )
    psis = ", ".join(f"{v:.4f} ({c})" for v, c in top_psi)
    head += [
        "",
        f"Largest on the stationary streams: PSI {psis}; KS statistic {top_ks[0]:.4f} "
        f"({top_ks[1]}).",
    ]
    return "\n".join(head) + "\n"

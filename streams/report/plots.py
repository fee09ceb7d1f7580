"""The report's five plots, each an inline `<svg data-plot=...>` drawn from report.json."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from streams.report.formats import count, dig, parse_time, real
from streams.report.svg import (
    CHAR_WIDTH,
    Panel,
    Scale,
    empty_figure,
    figure,
    legend,
    log_ticks,
    nice_domain,
    percent_label,
)

PRIMARY = "#2563eb"
SHADOW = "#ea580c"
END_TO_END = "#6b7280"
THIRD = "#7c3aed"
OTHERS = ("#059669", "#db2777", "#0891b2", "#a16207")

WIDTH = 560
LEFT, RIGHT, TOP, BOTTOM = 70, 30, 40, 48
"""Margins around a figure's plotting area: room for tick labels, axis titles, the legend."""


def _panel(x: Scale, y_lo: float, y_hi: float, top: float, bottom: float) -> Panel:
    return Panel(x, Scale(y_lo, y_hi, bottom, top))


def _x(lo: float, hi: float, log: bool = False) -> Scale:
    return Scale(lo, hi, LEFT, WIDTH - RIGHT, log)


def _pairs(xs: Any, ys: Any) -> tuple[list[float], list[float]]:
    if not isinstance(xs, list) or not isinstance(ys, list):
        return [], []
    pairs = [(real(a), real(b)) for a, b in zip(xs, ys, strict=False)]
    kept = [(a, b) for a, b in pairs if a is not None and b is not None]
    return [a for a, _ in kept], [b for _, b in kept]


def scatter(report: dict[str, Any]) -> str:
    title = "Scores: shadow vs primary, a uniform sample of joined pairs"
    xs, ys = _pairs(
        dig(report, "scores", "scatter", "primary"), dig(report, "scores", "scatter", "shadow")
    )
    if not xs:
        return empty_figure("scatter", title, "no joined pairs to plot")
    lo, hi, ticks = nice_domain(min(*xs, *ys), max(*xs, *ys))
    if min(*xs, *ys) >= 0 and max(*xs, *ys) <= 1:  # probabilities: the whole square
        lo, hi, ticks = 0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    height = 420
    p = _panel(_x(lo, hi), lo, hi, TOP, height - BOTTOM)
    p.axes(
        ticks,
        ticks,
        f"primary score ({report.get('primary') or '?'})",
        f"shadow score ({report.get('shadow') or '?'})",
    )
    opacity = 0.5 if len(xs) <= 500 else 0.3
    p.points(xs, ys, PRIMARY, radius=2.2, opacity=opacity)
    p.rule(lo, lo, hi, hi)
    key = legend(
        [(PRIMARY, f"pairs ({count(len(xs))} sampled)"), ("#6b7280", "y = x")],
        LEFT,
        TOP / 2,
        dashed=["y = x"],
    )
    return figure("scatter", title, WIDTH, height, [*p.parts, key])


def delta_histogram(report: dict[str, Any]) -> str:
    title = "Score delta (shadow \N{MINUS SIGN} primary): histogram of joined pairs"
    edges = [real(e) for e in dig(report, "scores", "histogram", "edges") or []]
    counts = [real(c) for c in dig(report, "scores", "histogram", "counts") or []]
    if not counts or len(edges) != len(counts) + 1 or None in edges:
        return empty_figure("delta-histogram", title, "no score deltas to plot")
    heights = [c or 0.0 for c in counts]
    bounds = [e for e in edges if e is not None]
    x_lo, x_hi, xticks = nice_domain(bounds[0], bounds[-1], 6)
    _, y_hi, yticks = nice_domain(0.0, max(max(heights), 1.0))
    height = 420
    p = _panel(_x(x_lo, x_hi), 0.0, y_hi, TOP, height - BOTTOM)
    p.axes(xticks, yticks, "shadow score \N{MINUS SIGN} primary score", "pairs")
    p.bars(bounds, heights, "#93c5fd")
    items = [("#93c5fd", "pairs per bin")]
    if x_lo < 0 < x_hi:
        p.rule(0, 0, 0, y_hi, "#374151", "2 3")
        items.append(("#374151", "zero"))
    mean = real(dig(report, "scores", "delta", "mean"))
    if mean is not None and x_lo <= mean <= x_hi:
        p.rule(mean, 0, mean, y_hi, SHADOW, "6 3")
        items.append((SHADOW, "mean delta"))
    key = legend(items, LEFT, TOP / 2, dashed=["zero", "mean delta"])
    return figure("delta-histogram", title, WIDTH, height, [*p.parts, key])


_TIME_STEPS: tuple[int, ...] = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
_TIME_STEPS += (7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000)
"""Steps between time ticks, in seconds."""


def _time_ticks(lo: float, hi: float, width: float) -> tuple[list[float], list[str]]:
    """Round times within [lo, hi] whose labels fit side by side in `width`."""
    span = max(hi - lo, 1.0)
    for step in _TIME_STEPS:
        fmt = "%H:%M:%S" if step < 60 else "%H:%M" if span < 86400 else "%d %b %H:%M"
        if step >= 86400:
            fmt = "%d %b"
        ticks = [float(i * step) for i in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
        names = [datetime.fromtimestamp(t, UTC).strftime(fmt) for t in ticks]
        widest = max((len(n) for n in names), default=0) * CHAR_WIDTH + 18
        if len(ticks) * widest <= width and len(ticks) <= 7:
            return ticks, names
    return [], []


def agreement_trend(report: dict[str, Any]) -> str:
    title = "Decision agreement and mean score delta per time window"
    window = real(dig(report, "trend", "window_s")) or 0.0
    rows = []
    for row in dig(report, "trend", "rows") or []:
        start = parse_time(dig(row, "start"))
        if start is not None:
            rows.append((start.timestamp() + window / 2, row))
    if not rows:
        return empty_figure("agreement-trend", title, "no time windows in range")
    rows.sort(key=lambda r: r[0])
    ts = [t for t, _ in rows]
    t_lo, t_hi = ts[0] - window / 2, ts[-1] + window / 2
    if t_hi <= t_lo:
        t_lo, t_hi = t_lo - 30, t_hi + 30
    xs = _x(t_lo, t_hi)
    xticks, xnames = _time_ticks(t_lo, t_hi, WIDTH - LEFT - RIGHT)
    agreement = [real(dig(r, "agreement")) for _, r in rows]
    mean = [real(dig(r, "mean_delta")) for _, r in rows]
    mean_abs = [real(dig(r, "mean_abs_delta")) for _, r in rows]
    marks = len(rows) <= 60
    height = 460
    upper_top, upper_bottom = TOP, 200
    lower_top, lower_bottom = 258, height - BOTTOM

    known = [a for a in agreement if a is not None] or [1.0]
    a_lo, a_hi = min(known), max(known)
    if a_hi - a_lo < 0.01:
        middle = (a_lo + a_hi) / 2
        a_lo, a_hi = middle - 0.005, middle + 0.005
    a_lo, a_hi, aticks = nice_domain(max(a_lo, 0.0), min(a_hi, 1.0), 4)
    upper = _panel(xs, a_lo, a_hi, upper_top, upper_bottom)
    upper.axes(xticks, aticks, "", "agreement", yfmt=percent_label, xlabels=[""] * len(xticks))
    upper.line(ts, agreement, PRIMARY)
    if marks:
        upper.points(ts, agreement, PRIMARY, radius=2.5)

    deltas = [d for d in (*mean, *mean_abs) if d is not None] or [0.0]
    d_lo, d_hi, dticks = nice_domain(min(*deltas, 0.0), max(*deltas, 0.0), 4)
    lower = _panel(xs, d_lo, d_hi, lower_top, lower_bottom)
    lower.axes(xticks, dticks, "window (UTC)", "score delta", xlabels=xnames)
    if d_lo < 0 < d_hi:
        lower.rule(t_lo, 0, t_hi, 0, "#9ca3af", "2 3")
    lower.line(ts, mean_abs, THIRD, dash="5 3")
    lower.line(ts, mean, SHADOW)
    if marks:
        lower.points(ts, mean, SHADOW, radius=2.5)
        lower.points(ts, mean_abs, THIRD, radius=2)
    key_upper = legend([(PRIMARY, "agreement")], LEFT, TOP / 2)
    key_lower = legend(
        [(SHADOW, "mean delta"), (THIRD, "mean |delta|")],
        LEFT,
        lower_top - 14,
        dashed=["mean |delta|"],
    )
    return figure(
        "agreement-trend", title, WIDTH, height, [*upper.parts, *lower.parts, key_upper, key_lower]
    )


def model_colors(report: dict[str, Any], refs: list[str]) -> dict[str, str]:
    colors = {str(report.get("primary")): PRIMARY, str(report.get("shadow")): SHADOW}
    others = iter(OTHERS * (len(refs) // len(OTHERS) + 1))
    return {ref: colors.get(ref) or next(others) for ref in refs}


def _density(histogram: Any) -> tuple[list[float], list[float]] | None:
    """A latency histogram as share per decade of log-spaced bins, positive finite edges only."""
    edges = [real(e) for e in dig(histogram, "edges") or []]
    counts = [real(c) or 0.0 for c in dig(histogram, "counts") or []]
    if len(edges) != len(counts) + 1 or sum(counts) <= 0:
        return None
    total = sum(counts)
    kept_edges: list[float] = []
    heights: list[float] = []
    for i, c in enumerate(counts):
        lo, hi = edges[i], edges[i + 1]
        if lo is None or hi is None or lo <= 0 or hi <= lo:
            continue
        if kept_edges and kept_edges[-1] != lo:
            heights.append(0.0)
            kept_edges.append(lo)
        if not kept_edges:
            kept_edges.append(lo)
        kept_edges.append(hi)
        heights.append(c / total / math.log10(hi / lo))
    while heights and heights[-1] == 0:  # empty tails: no room on the axis
        heights.pop()
        kept_edges.pop()
    while heights and heights[0] == 0:
        heights.pop(0)
        kept_edges.pop(0)
    return (kept_edges, heights) if heights else None


def latency(report: dict[str, Any]) -> str:
    title = "Latency distributions: inference per model, and end to end"
    models = dig(report, "latency", "models") or {}
    colors = model_colors(report, [str(ref) for ref in models])
    series = []
    for ref, figures in models.items():
        curve = _density(dig(figures, "infer_ms", "histogram"))
        if curve:
            series.append((f"{ref} inference", colors[str(ref)], curve))
    curve = _density(dig(report, "latency", "end_to_end_ms", "histogram"))
    if curve:
        series.append(("end to end", END_TO_END, curve))
    if not series:
        return empty_figure("latency", title, "no latency histograms in range")
    lo = min(c[0][0] for _, _, c in series)
    hi = max(c[0][-1] for _, _, c in series)
    lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
    _, y_hi, yticks = nice_domain(0.0, max(max(c[1]) for _, _, c in series), 4)
    height = 460
    p = _panel(_x(lo, hi, log=True), 0.0, y_hi, TOP, height - BOTTOM)
    p.axes(log_ticks(lo, hi), yticks, "milliseconds (log scale)", "share per decade")
    for _, color, (edges, heights) in series:
        p.steps(edges, heights, color)
    key = legend([(color, name) for name, color, _ in series], LEFT, TOP / 2)
    return figure("latency", title, WIDTH, height, [*p.parts, key])


def calibration(report: dict[str, Any]) -> str:
    title = "Calibration: positive rate vs mean score per score bin"
    height = 420
    p = _panel(_x(0.0, 1.0), 0.0, 1.0, TOP, height - BOTTOM)
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    p.axes(ticks, ticks, "mean score in bin", "positive rate in bin")
    p.rule(0, 0, 1, 1)
    items = []
    for role, color in (("primary", PRIMARY), ("shadow", SHADOW)):
        bins = dig(report, "labels", "models", role, "calibration") or []
        xs = [real(dig(b, "mean_score")) for b in bins]
        ys = [real(dig(b, "positive_rate")) for b in bins]
        p.line(xs, ys, color)
        p.points(xs, ys, color, radius=3)
        ref = dig(report, "labels", "models", role, "ref") or report.get(role) or role
        items.append((color, str(ref)))
    items.append(("#6b7280", "perfectly calibrated"))
    key = legend(items, LEFT, TOP / 2, dashed=["perfectly calibrated"])
    return figure("calibration", title, WIDTH, height, [*p.parts, key])

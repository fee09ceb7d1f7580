"""Small SVG plotting helpers for the self-contained HTML report: scales, ticks, axes, marks.

Everything is plain strings; coordinates are in the figure's own units (its viewBox), so a
figure scales with the page. All text goes through `html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

FONT_SIZE = 12
CHAR_WIDTH = 6.6
"""Rough width of one character of the figure's font, to lay out legends without overlap."""

AXIS = "#6b7280"
GRID = "#e5e7eb"
TEXT = "#374151"

Formatter = Callable[[float], str]


def _n(v: float) -> str:
    """A coordinate, short."""
    return f"{v:.1f}".rstrip("0").rstrip(".") if math.isfinite(v) else "0"


@dataclass(frozen=True)
class Scale:
    """Maps a data interval [lo, hi] onto a figure interval [start, end], linear or log10."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        lo, hi, v = self.lo, self.hi, value
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(max(v, self.lo))
        if hi == lo:
            return (self.start + self.end) / 2
        return self.start + (v - lo) / (hi - lo) * (self.end - self.start)


def nice_step(raw: float) -> float:
    """The 1, 2 or 5 * 10^k step nearest above `raw`."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10**exponent
    nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    return nice * 10.0**exponent


def nice_domain(lo: float, hi: float, count: int = 5) -> tuple[float, float, list[float]]:
    """A domain widened to round steps around [lo, hi], and its ticks."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 0.5
        lo, hi = lo - pad, hi + pad
    step = nice_step((hi - lo) / count)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    ticks = [round(i * step, 12) for i in range(first, last + 1)]
    return ticks[0], ticks[-1], ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten within [lo, hi]; with 2x and 5x between them when there are few decades."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    multiples = (1,) if last - first > 3 else (1, 2, 5)
    ticks = [m * 10.0**e for e in range(first, last + 1) for m in multiples]
    return [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


def tick_label(value: float) -> str:
    """A short tick label: 0.25, 3, 12k, 1.5M, 1e-05."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    for limit, unit, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if magnitude >= limit:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:.6g}"


def percent_label(value: float) -> str:
    return f"{value * 100:.6g}%"


@dataclass
class Panel:
    """One plotting area: its two scales and the marks drawn on it."""

    x: Scale
    y: Scale
    parts: list[str] = field(default_factory=list)

    @property
    def left(self) -> float:
        return min(self.x.start, self.x.end)

    @property
    def right(self) -> float:
        return max(self.x.start, self.x.end)

    @property
    def top(self) -> float:
        return min(self.y.start, self.y.end)

    @property
    def bottom(self) -> float:
        return max(self.y.start, self.y.end)

    def axes(
        self,
        xticks: Sequence[float],
        yticks: Sequence[float],
        xlabel: str = "",
        ylabel: str = "",
        xfmt: Formatter = tick_label,
        yfmt: Formatter = tick_label,
        xlabels: Sequence[str] | None = None,
    ) -> None:
        """Grid lines, the frame, tick labels and axis titles."""
        out = self.parts
        for t in yticks:
            y = _n(self.y(t))
            out.append(
                f'<line x1="{_n(self.left)}" x2="{_n(self.right)}" y1="{y}" y2="{y}" '
                f'stroke="{GRID}"/>'
            )
            out.append(
                f'<text x="{_n(self.left - 6)}" y="{y}" text-anchor="end" '
                f'dominant-baseline="middle">{escape(yfmt(t))}</text>'
            )
        names = xlabels if xlabels is not None else [xfmt(t) for t in xticks]
        for t, name in zip(xticks, names, strict=True):
            x = _n(self.x(t))
            out.append(
                f'<line x1="{x}" x2="{x}" y1="{_n(self.top)}" y2="{_n(self.bottom)}" '
                f'stroke="{GRID}"/>'
            )
            out.append(
                f'<text x="{x}" y="{_n(self.bottom + 16)}" text-anchor="middle">'
                f"{escape(name)}</text>"
            )
        out.append(
            f'<rect x="{_n(self.left)}" y="{_n(self.top)}" width="{_n(self.right - self.left)}" '
            f'height="{_n(self.bottom - self.top)}" fill="none" stroke="{AXIS}"/>'
        )
        if xlabel:
            out.append(
                f'<text x="{_n((self.left + self.right) / 2)}" y="{_n(self.bottom + 34)}" '
                f'text-anchor="middle" class="axis-title">{escape(xlabel)}</text>'
            )
        if ylabel:
            cx, cy = self.left - 56, (self.top + self.bottom) / 2
            out.append(
                f'<text x="{_n(cx)}" y="{_n(cy)}" text-anchor="middle" class="axis-title" '
                f'transform="rotate(-90 {_n(cx)} {_n(cy)})">{escape(ylabel)}</text>'
            )

    def line(
        self,
        xs: Sequence[float | None],
        ys: Sequence[float | None],
        color: str,
        width: float = 1.8,
        dash: str | None = None,
    ) -> None:
        """A polyline through the points; a missing value breaks it."""
        runs: list[list[str]] = [[]]
        for x, y in zip(xs, ys, strict=True):
            if x is None or y is None:
                runs.append([])
            else:
                runs[-1].append(f"{_n(self.x(x))},{_n(self.y(y))}")
        style = f' stroke-dasharray="{dash}"' if dash else ""
        for run in runs:
            if len(run) > 1:
                self.parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" '
                    f'stroke-width="{width}" stroke-linejoin="round"{style}/>'
                )

    def points(
        self,
        xs: Sequence[float | None],
        ys: Sequence[float | None],
        color: str,
        radius: float = 2.0,
        opacity: float = 1.0,
    ) -> None:
        fill = f' fill-opacity="{opacity}"' if opacity < 1 else ""
        for x, y in zip(xs, ys, strict=True):
            if x is not None and y is not None:
                self.parts.append(
                    f'<circle cx="{_n(self.x(x))}" cy="{_n(self.y(y))}" r="{radius}" '
                    f'fill="{color}"{fill}/>'
                )

    def steps(self, edges: Sequence[float], heights: Sequence[float], color: str) -> None:
        """A histogram's outline: flat over each bin, vertical between bins."""
        if not heights:
            return
        base = self.y(self.y.lo)
        d = [f"M{_n(self.x(edges[0]))},{_n(base)}"]
        for i, h in enumerate(heights):
            y = _n(self.y(h))
            d.append(f"V{y}H{_n(self.x(edges[i + 1]))}")
        d.append(f"V{_n(base)}")
        self.parts.append(
            f'<path d="{"".join(d)}" fill="none" stroke="{color}" stroke-width="1.8" '
            'stroke-linejoin="round"/>'
        )

    def bars(self, edges: Sequence[float], counts: Sequence[float], color: str) -> None:
        base = self.y(max(self.y.lo, 0.0))
        for i, count in enumerate(counts):
            if count <= 0:
                continue
            x0, x1, y = self.x(edges[i]), self.x(edges[i + 1]), self.y(count)
            self.parts.append(
                f'<rect x="{_n(x0 + 0.5)}" y="{_n(y)}" width="{_n(max(x1 - x0 - 1, 0.5))}" '
                f'height="{_n(base - y)}" fill="{color}"/>'
            )

    def rule(
        self, x0: float, y0: float, x1: float, y1: float, color: str = AXIS, dash: str = "5 4"
    ) -> None:
        """A straight reference line in data coordinates (a diagonal, a zero line)."""
        self.parts.append(
            f'<line x1="{_n(self.x(x0))}" y1="{_n(self.y(y0))}" x2="{_n(self.x(x1))}" '
            f'y2="{_n(self.y(y1))}" stroke="{color}" stroke-width="1.2" '
            f'stroke-dasharray="{dash}"/>'
        )


def legend(items: Iterable[tuple[str, str]], x: float, y: float, dashed: Sequence[str] = ()) -> str:
    """A one-row legend (colour, label) starting at (x, y); meant for a figure's top margin,
    where it cannot cover data. Labels in `dashed` get a dashed swatch."""
    parts: list[str] = []
    for color, label in items:
        dash = ' stroke-dasharray="4 3"' if label in dashed else ""
        parts.append(
            f'<line x1="{_n(x)}" x2="{_n(x + 18)}" y1="{_n(y)}" y2="{_n(y)}" stroke="{color}" '
            f'stroke-width="3"{dash}/>'
        )
        parts.append(
            f'<text x="{_n(x + 23)}" y="{_n(y)}" dominant-baseline="middle">{escape(label)}</text>'
        )
        x += 23 + len(label) * CHAR_WIDTH + 16
    return "".join(parts)


def figure(plot: str, title: str, width: int, height: int, body: Iterable[str]) -> str:
    """The `<svg data-plot=...>` element, with its `<title>`."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" data-plot="{escape(plot)}" '
        f'viewBox="0 0 {width} {height}" role="img" font-size="{FONT_SIZE}" fill="{TEXT}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def empty_figure(plot: str, title: str, message: str, width: int = 560, height: int = 200) -> str:
    """A figure that says why there is nothing to draw."""
    return figure(
        plot,
        title,
        width,
        height,
        [
            f'<rect x="1" y="1" width="{width - 2}" height="{height - 2}" fill="#f9fafb" '
            f'stroke="{GRID}"/>',
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
            f'dominant-baseline="middle" fill="{AXIS}">{escape(message)}</text>',
        ],
    )

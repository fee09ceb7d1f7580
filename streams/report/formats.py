"""How the HTML report writes its figures: shares as percentages, counts with thousands
separators, other numbers with 4 significant digits, and "—" for a figure that is undefined."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

DASH = "—"


def dig(data: Any, *path: str | int) -> Any:
    """`data[p0][p1]...`, or None where any step is missing, null or of the wrong kind."""
    for key in path:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def real(value: Any) -> float | None:
    """A finite number, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def number(value: Any) -> str:
    v = real(value)
    if v is None:
        return DASH if value is None or isinstance(value, int | float) else str(value)
    if v == 0:
        return "0"
    if isinstance(value, int) or (abs(v) >= 1000 and v.is_integer()):
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def signed(value: Any) -> str:
    """A difference: positive ones get a plus sign."""
    v = real(value)
    return f"+{number(v)}" if v is not None and v > 0 else number(value)


def count(value: Any) -> str:
    v = real(value)
    return DASH if v is None else f"{round(v):,}"


def share(value: Any) -> str:
    v = real(value)
    return DASH if v is None else f"{v * 100:.2f}%"


def p_value(value: Any) -> str:
    v = real(value)
    if v is None:
        return DASH
    return "< 1e-300" if v == 0 else number(v)


def interval(values: Any, fmt: Callable[[Any], str] = number) -> str:
    """A confidence interval "[lo, hi]", or "—"."""
    lo, hi = dig(values, 0), dig(values, 1)
    if real(lo) is None and real(hi) is None:
        return DASH
    return f"[{fmt(lo)}, {fmt(hi)}]"


def with_interval(
    value: Any, values: Any, fmt: Callable[[Any], str] = number, separator: str = " "
) -> str:
    """A figure and its confidence interval (in a table, `separator="\\n"` puts the interval
    on a second line)."""
    ci = interval(values, fmt)
    return fmt(value) if ci == DASH else f"{fmt(value)}{separator}{ci}"


def timestamp(value: Any) -> str:
    """An ISO-8601 time, written "2026-11-28 03:00:00 UTC"."""
    moment = parse_time(value)
    if moment is None:
        return DASH if value is None else str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def text(value: Any) -> str:
    """Any value as escaped text: a number formatted, null as "—"."""
    if value is None:
        return DASH
    if isinstance(value, int | float) and not isinstance(value, bool):
        return escape(number(value))
    return escape(str(value))


Cell = str | tuple[str, str]
"""A table cell: its text (escaped by `table`; a second line, after a newline, is written
small below the first), or (text, css class)."""


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    caption: str = "",
    cls: str = "",
    text_columns: Sequence[int] = (),
) -> str:
    """An HTML table; every column but the first and `text_columns` is numeric (right-aligned)."""

    def classes(i: int, extra: str = "") -> str:
        kind = "text" if i in text_columns else "num" if i else ""
        names = " ".join(c for c in (kind, extra) if c)
        return f' class="{escape(names)}"' if names else ""

    head = "".join(f"<th{classes(i)}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            content, extra = cell if isinstance(cell, tuple) else (cell, "")
            first, _, second = content.partition("\n")
            html = escape(first) + (
                f'<br><span class="second">{escape(second)}</span>' if second else ""
            )
            tag = "th" if i == 0 else "td"
            cells.append(f"<{tag}{classes(i, extra)}>{html}</{tag}>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    attr = f' class="{escape(cls)}"' if cls else ""
    return f"<table{attr}>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

"""The demo's terminal dashboard: one :class:`~streams.demo.watch.Snapshot`, drawn with rich.

Pure drawing, no I/O: the demo's loop redraws it once a second inside ``rich.live.Live``.
Five panels: scoring (rates, latency against the 100 ms goal, batches, lag, dead letters),
models and their roles with the live shadow comparison, drift per watched column against
its threshold, the retraining worker's state, and the run's progress.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from streams.demo.watch import DriftRow, ModelRow, Snapshot

GOAL_MS = 100.0  # event-to-prediction p99 the demo holds itself to
DRIFT_ROWS = 6  # the watched columns nearest their thresholds


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _against_goal(value: float | None) -> Text:
    if value is None:
        return Text("—")
    return Text(f"{value:,.1f}", style="green" if value <= GOAL_MS else "bold red")


def scoring(s: Snapshot) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    grid.add_row("events/s in / out", f"{s.in_rate:,.0f} / {s.out_rate:,.0f}")
    recent, run = s.recent, s.run
    p50 = recent.p50_ms if recent else None
    p99 = recent.p99_ms if recent else None
    grid.add_row("p50 / p99, last 5 s", Text.assemble(_ms(p50), " / ", _against_goal(p99), " ms"))
    worst = Text.assemble(
        _against_goal(run.p99_ms if run else None), " / ", _against_goal(s.worst_p99_ms), " ms"
    )
    grid.add_row("p99 run / worst 10 s", worst)
    grid.add_row("batch size (mean)", "—" if s.batch_mean is None else f"{s.batch_mean:,.1f}")
    grid.add_row("consumer lag", f"{s.lag:,.0f}")
    dlq = sum(s.dlq.values())
    causes = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(s.dlq.items()) if v)
    grid.add_row("dead letters", f"{dlq:,.0f}" + (f" ({causes})" if causes else ""))
    grid.add_row("predictions", f"{s.predictions:,}")
    return Panel(grid, title=f"scoring · {s.engine} engine", border_style="cyan")


def _agreement(row: ModelRow) -> str:
    if row.role != "shadow":
        return "decides"
    if not row.compared:
        return "no outputs yet"
    same = 100 * (1 - row.disagree / row.compared)
    return f"{same:.1f}% same decision, |Δ score| {row.delta / row.compared:.4f}"


def models(s: Snapshot) -> Panel:
    table = Table("model", "role", "compared", "against the primary", box=None, padding=(0, 1))
    for row in s.models:
        name = Text(row.ref, style="bold" if row.role == "primary" else "")
        if row.new:
            name.append(" new", style="magenta")
        compared = f"{row.compared:,.0f}" if row.role == "shadow" else ""
        table.add_row(name, row.role, compared, _agreement(row))
    if not s.models:
        table.add_row("—", "", "", "routing not read yet")
    return Panel(table, title="models", border_style="cyan")


def drift(s: Snapshot) -> Panel:
    table = Table("watched column", "PSI", "KS", box=None, padding=(0, 1))

    def level(row: DriftRow) -> float:
        a = row.psi / s.psi_threshold if row.psi is not None and s.psi_threshold else 0.0
        b = row.ks / s.ks_threshold if row.ks is not None and s.ks_threshold else 0.0
        return max(a, b)

    def cell(value: float | None, threshold: float | None) -> Text:
        if value is None:
            return Text("—")
        over = threshold is not None and value > threshold
        return Text(f"{value:.3f}", style="bold red" if over else "green")

    for row in sorted(s.drift, key=level, reverse=True)[:DRIFT_ROWS]:
        table.add_row(row.feature, cell(row.psi, s.psi_threshold), cell(row.ks, s.ks_threshold))
    if not s.drift:
        table.add_row("no window closed yet", "", "")
    title = f"drift · {s.windows_closed:,.0f} windows · {s.alerts} alerts"
    limits = f"thresholds: PSI {_ms(s.psi_threshold)}, KS {_ms(s.ks_threshold)}"
    return Panel(Group(table, Text(limits, style="dim")), title=title, border_style="cyan")


def retraining(s: Snapshot) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    state = Text(s.retraining, style="bold yellow" if s.retraining != "idle" else "")
    state.append(f" for {s.retraining_for_s:,.0f} s", style="dim")
    grid.add_row("state", state)
    grid.add_row("requests", str(s.requests))
    grid.add_row("last result", s.results[-1] if s.results else "—")
    return Panel(grid, title="retraining", border_style="cyan")


def progress(s: Snapshot) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=42)
    grid.add_column()
    drift_mark = "drifted" if s.elapsed_s >= s.drift_at_s else f"drifts at {s.drift_at_s:.0f} s"
    grid.add_row(
        Text(f"StreamScore live demo · {s.rate:,.0f} events/s", style="bold"),
        f"{s.drift_feature} {drift_mark} · {s.phase}",
    )
    grid.add_row(
        ProgressBar(total=s.length_s, completed=min(s.elapsed_s, s.length_s), width=40),
        f"{s.elapsed_s:,.0f} / {s.length_s:,.0f} s · {s.sent:,} sent",
    )
    return grid


def render(s: Snapshot) -> RenderableType:
    top = Table.grid(padding=(0, 1), expand=True)
    top.add_column(ratio=3)
    top.add_column(ratio=2)
    top.add_row(scoring(s), drift(s))
    return Group(progress(s), top, models(s), retraining(s))

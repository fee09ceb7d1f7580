"""`streamscore report shadow`: should the shadow replace the primary? The evidence, and a verdict.

With ``--split``, the canary instead (split mode, streams/report/split.py): should it take over
from the primary, on the outcomes of the events each decided? Either way it writes
``DIR/report.json`` (every figure) and ``DIR/report.html`` (one self-contained page; open it
in any browser, offline), prints a summary and the recommendation. Exit codes: 0 a report was
written (whatever its verdict); 1 nothing could be reported (an empty range, an unknown
model, no shadow or no canary outputs), with one line saying why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.cli.common import Bootstrap, err, fail, given, out, settings_error

if TYPE_CHECKING:  # the report's modules load only when a report is built
    from streams.report.settings import ReportSettings

report_cli = typer.Typer(help="Shadow-mode comparison reports.")

Since = Annotated[str | None, typer.Option(help="Range ending now, e.g. 10m, 2h, 1d.")]
From = Annotated[str | None, typer.Option("--from", help="Range start, ISO 8601 (UTC default).")]
To = Annotated[str | None, typer.Option("--to", help="Range end, ISO 8601; default now.")]


@report_cli.command()
def shadow(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.json and report.html.")],
    since: Since = None,
    start: From = None,
    end: To = None,
    primary: Annotated[
        str | None, typer.Option(help="NAME[:V]; default the most common primary in range.")
    ] = None,
    shadow_model: Annotated[
        str | None, typer.Option("--shadow", help="NAME[:V]; default the most common shadow.")
    ] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option(help="Slice by FIELD (event or prediction field); numeric as FIELD:BINS."),
    ] = None,
    shadow_topic: Annotated[
        str | None, typer.Option(help="Read the shadow side from this topic (a replay's).")
    ] = None,
    lateness: Annotated[
        float, typer.Option(help="Seconds a record may arrive after the range's end.", min=0)
    ] = 60.0,
    split: Annotated[
        bool,
        typer.Option(
            "--split", help="Canary A/B: compare the primary's and the canary's arms instead."
        ),
    ] = False,
    canary: Annotated[
        str | None, typer.Option(help="With --split: NAME[:V]; default the most common canary.")
    ] = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Join primary and shadow outputs by event_id over a range of event time, with labels;
    with --split, the arms of a canary split on the predictions topic."""
    if split:
        for name, value in (("--shadow", shadow_model), ("--segment", segment),
                            ("--shadow-topic", shadow_topic)):  # fmt: skip
            if value:
                raise fail(f"{name} is for the shadow mode; --split reads the predictions topic")
        write(
            compute_split_report(since, start, end, primary, canary, lateness, bootstrap), out_dir
        )
        return
    if canary is not None:
        raise fail("--canary needs --split")
    report = compute_report(
        since, start, end, primary, shadow_model, segment or [], shadow_topic, lateness, bootstrap
    )
    write(report, out_dir)


def compute_report(
    since: str | None, start: str | None, end: str | None, primary: str | None,
    shadow_model: str | None, segments: list[str], shadow_topic: str | None, lateness: float,
    bootstrap: str | None,
) -> dict:  # fmt: skip
    """The report dict (streams/report/build.py), with a progress bar on stderr."""
    from streams.report.build import ReportRequest, build_report
    from streams.report.reading import TimeRange

    def build(settings: ReportSettings, progress: Callable[[int, int], None]) -> dict:
        request = ReportRequest(
            TimeRange.parse(since, start, end), primary, shadow_model, segments, shadow_topic,
            lateness, settings.thresholds(),
        )  # fmt: skip
        return build_report(settings, request, settings.promotion, progress)

    return _with_progress(bootstrap, build)


def compute_split_report(
    since: str | None, start: str | None, end: str | None, primary: str | None,
    canary: str | None, lateness: float, bootstrap: str | None,
) -> dict:  # fmt: skip
    """Split mode's report dict (streams/report/split.py), with a progress bar on stderr."""
    from streams.report.reading import TimeRange
    from streams.report.split import SplitRequest, build_split_report

    def build(settings: ReportSettings, progress: Callable[[int, int], None]) -> dict:
        request = SplitRequest(TimeRange.parse(since, start, end), primary, canary, lateness)
        return build_split_report(settings, request, settings.promotion, progress)

    return _with_progress(bootstrap, build)


def _with_progress(
    bootstrap: str | None, build: Callable[[ReportSettings, Callable[[int, int], None]], dict]
) -> dict:
    """``build(settings, progress)`` under a progress bar on stderr; a bad setting exits 2,
    a report or client error exits 1 with one line."""
    from streams.client.errors import ClientError
    from streams.report.errors import ReportError
    from streams.report.settings import ReportSettings

    try:
        settings = ReportSettings(**given(kafka={"bootstrap": bootstrap}))
    except ValidationError as exc:
        raise settings_error(exc) from None
    columns = (TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("records", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, done))

            return build(settings, progress)
    except (ReportError, ClientError) as exc:
        raise fail(exc) from None


def write(report: dict, out_dir: Path) -> None:
    from streams.report import split_views
    from streams.report.html import render_html
    from streams.report.terminal import summary

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, allow_nan=False))
    (out_dir / "report.html").write_text(render_html(report), encoding="utf-8")
    out.print(split_views.summary(report) if report.get("mode") == "split" else summary(report))
    out.print(
        f"wrote {out_dir / 'report.json'} and {out_dir / 'report.html'} (open it in a browser)"
    )


def register(cli: typer.Typer) -> None:
    cli.add_typer(report_cli, name="report")

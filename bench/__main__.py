"""`python -m bench [--quick] [--batch-size N] [--batch-timeout-ms T] [--set NAME=VALUE] …`

``python -m bench --only drift`` measures only the librdkafka worker with drift monitoring off
and on (interleaved pairs; ``drift-faust`` for the Faust engine) and rewrites only their rows
and section of BENCHMARKS.md, each naming that command.

``python -m bench --report bench/results/<run>.json`` prints a saved run again and rewrites
BENCHMARKS.md from it, without measuring anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import harness, markdown, report
from bench.options import parse


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Piped (make, CI) rich would wrap at 80 columns: the tables need more.
    console = Console() if sys.stdout.isatty() else Console(width=180)
    if args[:1] == ["--report"] and len(args) == 2:
        path = Path(args[1]).resolve()
        results = json.loads(path.read_text())
        return publish(results, path, console, write_json=False, write_markdown=True)
    options = parse(args)
    try:
        results = harness.run(options, console)
    except KeyboardInterrupt:
        console.print("[red]interrupted; services and workers stopped[/]")
        return 130
    return publish(results, None, console, write_json=True, write_markdown=options.write_markdown)


def publish(
    results: dict[str, Any],
    path: Path | None,
    console: Console,
    write_json: bool,
    write_markdown: bool,
) -> int:
    report.print_report(results, console)
    if write_json or path is None:
        path = report.write_json(results)
        console.print(f"results: {path.relative_to(report.ROOT)}", highlight=False)
    if write_markdown:
        md = markdown.write(results, path)
        console.print(f"rewrote {md.relative_to(report.ROOT)}", highlight=False)
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())

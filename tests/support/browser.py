"""Headless Chromium for the tests: load a local HTML file, dump its DOM after load, take a
screenshot, and collect what the page wrote to the console.

Chromium started with `--enable-logging=stderr` prints each console message of a page as

    [pid:tid:MMDD/hhmmss.uuuuuu:INFO:CONSOLE:3] "the message", source: file:///p.html (3)

(older builds write `INFO:CONSOLE(3)`), and an uncaught exception as a console message whose
text starts with "Uncaught" ("Uncaught Error: boom", "Uncaught (in promise) Error: x").
The level is NOT printed: for a web page Chromium logs console.log, .warn and .error all at
INFO. So every console message counts: a clean page prints none.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

NAMES = ("chromium", "chromium-browser")
TIMEOUT_S = 60.0

_CONSOLE = re.compile(
    r'^\[[^\]\n]*:CONSOLE[:(](?P<line>\d+)\)?\] "(?P<text>.*?)", source: (?P<source>[^\n]*?) '
    r"\((?P<source_line>\d+)\)$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class ConsoleMessage:
    text: str
    source: str
    line: int

    @property
    def uncaught(self) -> bool:
        """An exception the page did not catch (or a rejected promise nobody handled)."""
        return self.text.startswith("Uncaught")


@dataclass(frozen=True)
class BrowserResult:
    dom: str
    """The document after the load event, as `--dump-dom` serialises it."""
    screenshot: Path
    console: list[ConsoleMessage]
    """Every console message and uncaught exception of the page (levels are not told apart)."""
    stderr: str

    @property
    def exceptions(self) -> list[ConsoleMessage]:
        return [m for m in self.console if m.uncaught]


def chromium() -> str:
    """The path of a Chromium binary; installs Debian's `chromium` package when there is none
    and this runs as root with apt-get."""
    found = _on_path()
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            "apt-get update -qq && apt-get install -y -qq chromium",
            shell=True,
            check=True,
            env=env,
            timeout=900,
        )
        found = _on_path()
        if found:
            return found
    raise RuntimeError(
        "the HTML report tests need Chromium: install Debian's `chromium` package "
        "(`sudo apt-get install chromium`) or put a `chromium` binary on PATH"
    )


def _on_path() -> str | None:
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def parse_console(stderr: str) -> list[ConsoleMessage]:
    return [
        ConsoleMessage(m["text"], m["source"], int(m["source_line"]))
        for m in _CONSOLE.finditer(stderr)
    ]


def render(
    html_path: Path,
    screenshot_path: Path,
    window: tuple[int, int] = (1400, 5000),
    timeout_s: float = TIMEOUT_S,
) -> BrowserResult:
    """Load `html_path` in headless Chromium (one process: DOM dump and screenshot), with a
    fresh profile; the browser is killed if it is not done within `timeout_s`."""
    screenshot_path = Path(screenshot_path)
    screenshot_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="streamscore-chromium-") as profile:
        command = [
            chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            f"--window-size={window[0]},{window[1]}",
            f"--screenshot={screenshot_path}",
            "--dump-dom",
            Path(html_path).resolve().as_uri(),
        ]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        try:
            dom, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # Its own session: the group is this browser and the helpers it started.
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise RuntimeError(f"chromium did not finish {html_path} in {timeout_s:g} s") from None
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"chromium exited with {process.returncode}:\n{stderr[-4000:]}")
    return BrowserResult(dom, screenshot_path, parse_console(stderr), stderr)


PLOTS = {"scatter", "delta-histogram", "agreement-trend", "latency", "calibration"}


class _Svgs(HTMLParser):
    """Each `<svg data-plot>`: its name, whether it has a <title>, how many marks it draws."""

    def __init__(self) -> None:
        super().__init__()
        self.plots: dict[str, dict[str, int]] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        plot = dict(attrs).get("data-plot")
        if tag == "svg" and plot:
            self._current = plot
            self.plots[plot] = {"title": 0, "marks": 0, "text": 0}
        elif self._current and tag == "title":
            self.plots[self._current]["title"] += 1
        elif self._current and tag == "text":
            self.plots[self._current]["text"] += 1
        elif self._current and tag in {"circle", "polyline", "path", "rect", "line"}:
            self.plots[self._current]["marks"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._current = None


def plots_in(page: str) -> dict[str, dict[str, int]]:
    parser = _Svgs()
    parser.feed(page)
    return parser.plots

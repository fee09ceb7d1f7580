"""`streamscore demo` as a new user meets it: on services of its own (a fresh state folder and
free ports, none running), so the demo starts Kafka, Redis and Triton itself and must stop
them, its three processes included, whether it ends or is interrupted.

The quick run is the CI's compressed demo: the same loop, 40 s of stream at 1,000 events/s.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import services
from infra.config import child_environment
from infra.settings import ServicesSettings, on_free_ports
from streams.demo.fleet import stop_leftovers
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def leftovers(state_dir: Path) -> list[str]:
    """Processes whose command line or environment names ``state_dir``: the services and
    the demo's workers all do (their data, logs or model repository live there)."""
    mark = str(state_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            status = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if status not in ("Z", "X") and (mark in cmdline or mark in environ):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command[:120]}")
    return found


def stopped(out: str) -> list[str]:
    """What the demo's last lines say it stopped, in order."""
    found = re.search(r"^stopped: (.*)$", out, re.MULTILINE)
    assert found, out[-2000:]
    return found.group(1).split(", ")


@pytest.fixture
def own_services(tmp_path: Path) -> Iterator[ServicesSettings]:
    """Settings of services nobody started; whatever a failed test leaves is stopped."""
    config = on_free_ports(tmp_path / "state")
    yield config
    stop_leftovers(config)
    services.down(config)


def demo_command(config: ServicesSettings, report: Path) -> tuple[list[str], dict[str, str]]:
    argv = [sys.executable, "-m", "streams.cli", "demo", "--quick", "--report-dir", str(report)]
    return argv, {**child_environment(config), "COLUMNS": "120"}


def test_the_quick_demo_runs_the_whole_loop_and_stops_everything(
    own_services: ServicesSettings, tmp_path: Path
) -> None:
    argv, env = demo_command(own_services, tmp_path / "report")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = done.stdout + done.stderr
    print(out)
    assert done.returncode == 0, out[-4000:]
    assert out.count("drift alert: merchant_risk") == 1, out  # one line per drifted column
    assert out.count("retraining requested by the drift-agent") == 1, out
    for stage in ("reading the training set", "training a candidate", "gating it",
                  "exporting it", "loading it on Triton"):  # fmt: skip
        assert f"retraining: {stage}" in out
    (accepted,) = set(re.findall(r"(scorer:\d+) passed the gate", out))  # line and panel
    assert f"{accepted} now runs as a shadow" in out
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert (report["primary"], report["shadow"]) == ("scorer:1", accepted)
    assert report["coverage"]["joined"] > 0 and report["labels"]["n"] > 0
    assert (tmp_path / "report" / "report.html").exists()
    assert re.search(r"streamed [\d,]+ events; [\d,]+ predictions; event-to-prediction p50", out)
    assert stopped(out) == ["retrainer", "agent", "worker", "triton", "redis", "kafka"]
    assert leftovers(own_services.state_dir) == []
    assert "GETPID" not in out and "WARNING" not in out  # library logs go to the log file


def test_ctrl_c_in_a_terminal_stops_the_dashboard_and_every_process(
    own_services: ServicesSettings, tmp_path: Path
) -> None:
    """The demo in a real terminal (a tmux pane): the dashboard's fields on the screen while
    it streams, then Ctrl-C, and nothing of it left running."""
    argv, env = demo_command(own_services, tmp_path / "report")
    script = tmp_path / "demo.sh"
    # The settings go to the demo alone: the shell's `sleep` (which keeps the pane open to
    # be read) must not look like one of the demo's processes.
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    script.write_text(f"{assignments} {shlex.join(argv)}\necho EXIT:$?\nsleep 600\n")
    socket = f"streamscore-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket]
    subprocess.run([*tmux, "new-session", "-d", "-s", "demo", "-x", "120", "-y", "60",
                    f"bash {script}"], check=True)  # fmt: skip
    screens = tmp_path / "screens.txt"

    def screen() -> str:
        shown = subprocess.run([*tmux, "capture-pane", "-p", "-t", "demo"],
                               capture_output=True, text=True, check=False).stdout  # fmt: skip
        with screens.open("a") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')}\n{shown}\n")
        return shown

    try:
        wait_for(lambda: re.search(r"events/s in / out\s+[1-9][\d,]* /", screen()) is not None,
                 300, "the dashboard streaming")  # fmt: skip
        time.sleep(3)
        shown = screen()
        print(shown)
        for field in ("StreamScore live demo", "events/s in / out", "p50 / p99, last 5 s",
                      "p99 run / worst 10 s", "batch size (mean)", "consumer lag",
                      "dead letters", "predictions", "drift", "thresholds: PSI",
                      "models", "scorer:1", "primary", "shadow", "retraining", "state",
                      " sent"):  # fmt: skip
            assert field in shown, f"{field!r} is not on the screen (all in {screens})"
        subprocess.run([*tmux, "send-keys", "-t", "demo", "C-c"], check=True)
        wait_for(lambda: "EXIT:" in screen(), 120, "the demo to exit after Ctrl-C")
        final = screen()
        assert "EXIT:130" in final and "interrupted" in final, final
        assert stopped(final) == [
            "traffic", "retrainer", "agent", "worker", "triton", "redis", "kafka"
        ], final  # fmt: skip
        assert leftovers(own_services.state_dir) == []
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)

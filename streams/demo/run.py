"""`streamscore demo` (what `make run` runs): the whole loop, live, on one machine.

1. Start Kafka, Redis and Triton (those not already running), create the topics.
2. Load the entities' features, make sure two model versions exist, route: version 1
   decides, the newest runs as a shadow (:mod:`streams.demo.traffic`).
3. Start a scoring worker, the drift agent and the retraining worker (:mod:`streams.demo.fleet`).
4. Stream simulated events and their labels at a steady rate, one feature shifted from
   ``drift_at_s`` on, and draw the dashboard once a second (:mod:`streams.demo.dashboard`),
   with one line per step of the loop as it shows (:mod:`streams.demo.watch`).
5. The stream runs ``seconds``, and longer if need be (up to ``grace_s``) until the
   retrained version has run as a shadow for ``tail_s``: the report needs its outputs.
6. Write the shadow report of the new version against the primary; stop every process the
   demo started, services included (those found running are left running).

Ctrl-C (SIGINT) or SIGTERM at any point goes to step 6 at once, without the report. Library
logs go to ``<state>/demo/demo.log``, never to the terminal.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from infra.settings import ServicesSettings
from streams.client import ClientSettings
from streams.demo.dashboard import GOAL_MS, render
from streams.demo.fleet import Fleet, demo_home
from streams.demo.outputs import OutputReader
from streams.demo.session import Session
from streams.demo.traffic import DemoError, TopicCount, drift_field, send_malformed
from streams.demo.watch import SPAN_S, Snapshot, Watcher
from streams.routing.state import routing_key


@dataclass(frozen=True)
class DemoPlan:
    rate: float = 1000.0  # events per second
    seconds: float = 120.0  # the stream runs at least this long
    drift_at_s: float = 30.0  # the project's drift field shifts from here on
    tail_s: float = 30.0  # the new shadow's outputs wanted before the stream ends
    grace_s: float = 150.0  # the most the stream runs past `seconds`, waiting for the loop
    seed: int = 0
    engine: str = "librdkafka"
    batch_timeout_ms: float = 20.0  # the worker's batch time T
    window_s: float = 5.0  # drift windows, in event time
    report_dir: Path = field(default_factory=lambda: Path("demo-report"))

    @classmethod
    def quick(cls, **values: Any) -> DemoPlan:
        """The compressed run CI takes: the same loop, shorter at each end."""
        return cls(**{"seconds": 40.0, "drift_at_s": 12.0, "tail_s": 8.0, **values})


@dataclass
class Outcome:
    """How the run went, for the last lines and the exit status."""

    status: int = 1
    why: str = ""
    report: Path | None = None
    snapshot: Snapshot | None = None


def log_to_file(path: Path) -> None:
    """Every library's log lines into ``path``, none on the terminal (rich owns it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # torch's and others' warnings too


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_demo(config: ServicesSettings, plan: DemoPlan, console: Console) -> int:
    home = demo_home(config)
    log_to_file(home / "demo.log")
    signal.signal(signal.SIGTERM, _interrupt)
    session = Session(config, plan, console, Fleet(home))
    outcome = Outcome()
    try:
        session.setup()
        outcome = stream(session, plan, console)
    except KeyboardInterrupt:
        outcome = Outcome(130, "interrupted: stopping everything the demo started")
        console.print(outcome.why)
    except DemoError as exc:
        outcome = Outcome(1, str(exc))
        console.print(f"[red]error[/red]: {exc}")
    finally:
        stopped = session.teardown()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was left running'}")
    console.print(f"logs: {home}")
    return outcome.status


def stream(session: Session, plan: DemoPlan, console: Console) -> Outcome:
    client: ClientSettings = session.client
    outputs = session.outputs = OutputReader(client)
    outputs.start()
    counter = session.counter = TopicCount(client, client.topics.events)
    field, unit, magnitude = drift_field(client.use_case())
    base = Snapshot(0.0, plan.seconds, plan.rate, plan.engine, plan.drift_at_s, field, 0)
    urls = {name: m.url for name, m in session.fleet.members.items() if m.metrics_port}
    assert session.store is not None
    key = routing_key(client.use_case().name)
    watcher = Watcher(urls, outputs, session.store, client.topics, base, key)
    console.print(
        f"streaming {plan.rate:,.0f} events/s for {plan.seconds:.0f} s or more; {field} "
        f"shifts by {_shift(unit, magnitude)} at {plan.drift_at_s:.0f} s"
    )
    session.start_traffic()
    t0 = time.monotonic()
    shadow_since: float | None = None
    phase, drained_by, malformed = "streaming", math.inf, False
    snap, _ = watcher.poll(0.0, 0, phase)
    with Live(render(snap), console=console, auto_refresh=False, transient=False) as live:
        while True:
            time.sleep(1.0)
            elapsed = time.monotonic() - t0
            if not malformed and elapsed >= 3:
                send_malformed(client, plan.seed)
                malformed = True
            snap, steps = watcher.poll(elapsed, counter.count(), phase)
            for line in steps:
                live.console.print(f"[dim]{elapsed:6.1f} s[/dim]  {line}")
            live.update(render(snap), refresh=True)
            if shadow_since is None and any(m.new and m.compared for m in snap.models):
                shadow_since = time.time()
            loop_done = bool(watcher.rejected) or (
                shadow_since is not None and time.time() - shadow_since >= plan.tail_s
            )
            if phase == "streaming":
                session.check()
                if (
                    elapsed >= plan.seconds and loop_done
                ) or elapsed >= plan.seconds + plan.grace_s:
                    phase, drained_by = "draining", time.monotonic() + 30
                    session.stop_traffic()
            elif outputs.predictions >= counter.count() - 2 or time.monotonic() > drained_by:
                break  # every event scored (the two malformed ones are dead letters)
    console.print()  # the last frame stays; what follows starts on a line of its own
    snap, steps = watcher.poll(time.monotonic() - t0, counter.count(), "done")
    for line in steps:
        console.print(line)
    return finish(session, console, watcher, snap, shadow_since)


def finish(
    session: Session,
    console: Console,
    watcher: Watcher,
    snap: Snapshot,
    shadow_since: float | None,
) -> Outcome:
    run, worst = snap.run, snap.worst_p99_ms
    sent = snap.sent - 2  # the malformed two are not events
    console.print(
        f"streamed {sent:,} events; {snap.predictions:,} predictions; event-to-prediction "
        f"p50 {run.p50_ms if run else float('nan'):.1f} ms, p99 "
        f"{run.p99_ms if run else float('nan'):.1f} ms, worst p99 over any {SPAN_S} s "
        f"{worst if worst is not None else float('nan'):.1f} ms (goal: ≤ {GOAL_MS:.0f} ms)"
    )
    seconds = session.fleet.home / "latency.csv"
    rows = session.outputs.book.per_second(watcher.started) if session.outputs else []
    seconds.write_text("second,predictions,p50_ms,p99_ms\n" + "".join(
        f"{s},{n},{p50:.1f},{p99:.1f}\n" for s, n, p50, p99 in rows))  # fmt: skip
    problems = []
    if not watcher.accepted:
        problems.append("no retrained version reached the shadow stage")
    if snap.predictions < sent:
        problems.append(f"{sent - snap.predictions:,} events were not scored")
    new = watcher.accepted[-1] if watcher.accepted else None
    report = session.report(new, shadow_since)
    if report is not None:
        console.print(f"shadow report: {report / 'report.html'} (open it in a browser)")
    if problems:
        console.print(f"[red]incomplete[/red]: {'; '.join(problems)}")
        return Outcome(1, "; ".join(problems), report, snap)
    console.print("[green]done[/green]: drift seen, one retraining, a new shadow, its report")
    return Outcome(0, "", report, snap)


def _shift(unit: str, magnitude: float) -> str:
    if unit == "sigma":
        return "one sigma" if magnitude == 1 else f"{magnitude:g} sigma"
    return f"{magnitude:g} (riskier)"

"""`streamscore demo --canary`: a canary, its split report, promote or rollback; then a bad
canary that the guard rolls back by itself, timed.

It reuses the live demo's machinery (streams/demo/session.py, fleet.py, traffic.py): the
same services, features and models (version 1 primary, version 2 a shadow, of the
project's first model: a binary one), plus one deliberately bad version, trained on
inverted labels (every positive marked negative and every negative positive): the
training code produces it honestly, and it calls nearly every negative event positive, a
failure no reader can mistake. Its card says so, and a later run finds it by its card
instead of training it again.

The fleet is a scoring worker and the guard (`models guard`), no drift agent and no
retraining worker: the guard's drift check is off (no agent publishes alerts here), and its
windows are sized for this traffic (``GUARD``) so that a bad canary is judged a few seconds
after its first labels (labels come one second after their events).

Every routing change is the real command, run as the user would type it and shown with its
output; the figures come from what the topics say (streams/demo/canary_watch.py): the
canary's record on `models.events` starts the clock, the guard's rollback record stops it,
and the canary's last decision on `predictions` (its ``scored_at``) says how long workers
kept using it after the rollback.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console

from infra.config import child_environment
from infra.settings import ServicesSettings
from streams.demo.canary_watch import CanaryWatch, rollback_times
from streams.demo.fleet import Fleet, demo_home, ports
from streams.demo.run import DemoPlan, _interrupt, log_to_file
from streams.demo.session import WORKER_GROUP, Session
from streams.demo.traffic import ENTITIES, DemoError, TopicCount, assigned
from streams.guard.settings import on_services as guard_on_services
from streams.routing import ModelRef, Routing, state
from streams.worker.settings import on_services as worker_on_services

if TYPE_CHECKING:
    from inference.repository import ModelRepository
    from schemas.project import Project

GUARD_GROUP = "streamscore-demo-guard"
BAD_GENERATOR = "the project's simulator, labels inverted (y -> 1 - y)"
BAD_SEED = 303
BAD_WHAT = "trained on inverted labels"
# Judged on 300 labelled events of each arm (a 20 % canary at 1,000 events/s has them in
# under 2 s); a 1,000-event window; no drift agent runs, so no drift check.
GUARD = {"min_labels": 300, "window": 1000, "rollback_on_drift": False, "check_every_s": 0.5}


@dataclass(frozen=True)
class CanaryPlan(DemoPlan):
    seconds: float = 60.0  # phase 1: how long the good canary decides before its report
    guard_wait_s: float = 60.0  # phase 2: the most the scenario waits for the guard
    percent: float = 20.0  # the canaries' share of entities

    @classmethod
    def quick(cls, **values: Any) -> CanaryPlan:
        return cls(**{"seconds": 25.0, "guard_wait_s": 40.0, **values})


class CanarySession(Session):
    """A demo session with the guard for a fleet, a bad model, and commands to run."""

    plan: CanaryPlan
    bad: ModelRef
    env: dict[str, str]  # of the commands it runs: the services' addresses

    def prepare_models(self) -> Routing:
        project = self.client.use_case()
        if project.task != "binary":
            raise DemoError(f"the canary demo judges a binary call; {project.name} is "
                            f"{project.task}")  # fmt: skip
        name = project.default_model.name
        super().prepare_models()
        self.bad = ensure_bad_model(self.config, project, self.step)
        routing = Routing(ModelRef(name, "1"), (ModelRef(name, "2"),))
        assert self.store is not None
        state.write_sync(self.store, state.routing_key(project.name), routing)
        return routing

    def _start_fleet(self) -> None:
        config, plan, port = self.config, self.plan, ports()
        worker = worker_on_services(
            config, engine=plan.engine, app_id=WORKER_GROUP, metrics_port=port["worker"],
            batch={"timeout_ms": plan.batch_timeout_ms, "fetch_min_bytes": 32_768},
        )  # fmt: skip
        self.fleet.start("worker", worker, ["worker"], port["worker"])
        guard = guard_on_services(
            config, guard={"app_id": GUARD_GROUP, "metrics_port": port["guard"], **GUARD}
        )
        self.fleet.start("guard", guard, ["models", "guard"], port["guard"])
        self.env = {**child_environment(worker), "COLUMNS": "100", "TERM": "dumb"}
        self.step(
            f"started: a scoring worker ({plan.engine} engine) and the guard (`streamscore "
            f"models guard`, STREAMSCORE_GUARD_MIN_LABELS={GUARD['min_labels']}, WINDOW="
            f"{GUARD['window']}, ROLLBACK_ON_DRIFT=false); waiting until they are ready"
        )
        deadline = time.monotonic() + 120.0
        while not (self._ready("worker") and assigned(self.client, GUARD_GROUP)):
            self.check()
            if time.monotonic() > deadline:
                raise DemoError("the worker or the guard was not ready after 120 s")
            time.sleep(0.5)

    def start_traffic(self) -> None:
        plan = self.plan
        count = int(plan.rate * (plan.seconds + plan.guard_wait_s + 120))
        args = ["simulate", "--rate", f"{plan.rate:g}", "--count", str(count),
                "--seed", str(plan.seed), "--entities", str(ENTITIES),
                "--label-delay", str(int(plan.rate))]  # fmt: skip
        self.fleet.start("traffic", self.client, args, loglevel=None)

    def command(self, *args: str) -> tuple[int, str]:
        """Run ``streamscore ARGS`` as the user would, show it with its output."""
        self.console.print(f"$ streamscore {shlex.join(args)}", style="bold", markup=False)
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", *args], env=self.env, capture_output=True,
            text=True, timeout=180, check=False,
        )  # fmt: skip
        text = (done.stdout + done.stderr).rstrip()
        for line in text.splitlines():
            self.console.print(f"  {line}", markup=False, highlight=False)
        return done.returncode, text

    def stream_for(self, seconds: float, watch: CanaryWatch, counter: TopicCount) -> None:
        """Let the traffic run, one progress line every 10 s."""
        end, next_line = time.monotonic() + seconds, time.monotonic() + 10
        while (now := time.monotonic()) < end:
            time.sleep(min(0.5, end - now))
            self.check()
            if time.monotonic() >= next_line:
                next_line += 10
                self.step(f"  … {counter.count():,} events sent, {watch.predictions:,} "
                          f"decided, {watch.canary_decisions():,} of them by a canary")  # fmt: skip


def bad_model(repo: ModelRepository, project: Project) -> tuple[int, bool]:
    """The bad version in ``repo``: (version, whether it was trained now). Found by its
    card's generator, or trained on inverted labels and exported with a card saying so."""
    from streams.simulation.starter import train_version

    name = project.default_model.name
    for version in repo.versions(name):
        card = repo.check_card(name, version)
        if card is not None and getattr(card.source, "generator", None) == BAD_GENERATOR:
            return version, False
    version = train_version(project, repo, name, seed=BAD_SEED, rows=40_000,
                            labels=lambda y: 1 - y, generator=BAD_GENERATOR)  # fmt: skip
    return version, True


def ensure_bad_model(config: ServicesSettings, project: Project, say: Any) -> ModelRef:
    """The bad version, loaded on Triton (:func:`bad_model`)."""
    from inference.repository import ModelRepository

    name = project.default_model.name
    version, trained = bad_model(ModelRepository(config.model_repository), project)
    if trained:
        triton = worker_on_services(config).triton.client()
        triton.load_model(name)  # picks up the new version
        triton.close()
    ref = ModelRef(name, str(version))
    say(f"the bad canary: {ref}, {BAD_WHAT} ({'trained now' if trained else 'found'}; its "
        f"card: `streamscore models show {ref}`)")  # fmt: skip
    return ref


def run_canary(config: ServicesSettings, plan: CanaryPlan, console: Console) -> int:
    home = demo_home(config)
    log_to_file(home / "demo.log")
    signal.signal(signal.SIGTERM, _interrupt)
    session = CanarySession(config, plan, console, Fleet(home))
    watch: CanaryWatch | None = None
    status, why = 1, ""
    try:
        session.setup()
        watch = CanaryWatch(session.client)
        watch.start()
        status, why = scenario(session, plan, watch)
    except KeyboardInterrupt:
        status, why = 130, "interrupted: stopping everything the demo started"
    except DemoError as exc:
        status, why = 1, str(exc)
    finally:
        if watch is not None:
            watch.close()
        stopped = session.teardown()
    if status:
        console.print(f"[red]incomplete[/red]: {why}" if status == 1 else why)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was left running'}")
    console.print(f"logs: {home}")
    return status


def start_canary(
    session: CanarySession, watch: CanaryWatch, model: str, percent: float
) -> dict[str, Any]:
    """`models canary MODEL --percent P`, and its record on models.events."""
    rc, _ = session.command("models", "canary", model, "--percent", f"{percent:g}")
    started = watch.wait_event("canary", model, 15.0)
    if rc or started is None:
        raise DemoError(f"the canary command failed or published nothing (exit {rc})")
    return started


def scenario(session: CanarySession, plan: CanaryPlan, watch: CanaryWatch) -> tuple[int, str]:
    say, good, bad = session.step, "scorer:2", str(session.bad)
    counter = session.counter = TopicCount(session.client, session.client.topics.events)
    session.start_traffic()
    say(f"streaming {plan.rate:,.0f} events/s ({ENTITIES:,} entities), each labelled 1 s later")
    session.stream_for(3.0, watch, counter)

    say(f"\n[bold]phase 1[/bold]: {good} as a {plan.percent:g} % canary, judged by its split "
        f"report after {plan.seconds:.0f} s")  # fmt: skip
    started = start_canary(session, watch, good, plan.percent)
    time.sleep(2.0)  # the workers' next routing refresh
    watch.measure(True)
    session.stream_for(plan.seconds, watch, counter)
    split = watch.measure(False)
    if watch.event("rollback", good, by="guard") is not None:
        return 1, f"the guard rolled the good canary {good} back; see the guard's log"
    out = plan.report_dir / "canary-report"
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started["at"] / 1000 + 2))
    rc, _ = session.command("report", "shadow", "--split", "--from", since, "--out", str(out))
    if rc:
        raise DemoError("the split report could not be written")
    verdict = json.loads((out / "report.json").read_text())["recommendation"]["verdict"]
    if verdict == "promote":
        say(f"the verdict is promote: promoting {good} (the gate reads the same report)")
        rc, _ = session.command("models", "promote", good, "--report", str(out / "report.json"))
    else:
        say(f"the verdict is {verdict}, not promote: rolling the canary back")
        rc, _ = session.command("models", "rollback")
    phase1 = "promoted" if verdict == "promote" else "rolled back"
    problems = [] if rc == 0 else [f"phase 1: {good} was not {phase1} (exit {rc})"]

    assert session.store is not None
    primary = state.read_sync(session.store, state.routing_key(session.client.use_case().name))
    say(f"\n[bold]phase 2[/bold]: {bad} ({BAD_WHAT}) as a {plan.percent:g} % canary, "
        f"{primary.primary if primary else '?'} deciding; the guard watches")  # fmt: skip
    bad_started = start_canary(session, watch, bad, plan.percent)
    waited = time.monotonic()
    while (rolled := watch.event("rollback", bad, by="guard")) is None:
        if time.monotonic() - waited > plan.guard_wait_s:
            break
        session.check()
        time.sleep(0.1)
    if rolled is not None:
        say(f"  {(rolled['at'] - bad_started['at']) / 1000:.1f} s after the canary command, "
            f"the guard rolled {bad} back: {rolled['reason']}")  # fmt: skip
    session.stream_for(5.0, watch, counter)  # workers that still used it would show now
    session.stop_traffic()
    drain_by = time.monotonic() + 20
    while watch.predictions < counter.count() and time.monotonic() < drain_by:
        time.sleep(0.5)

    say("\n[bold]the end[/bold]")
    session.command("models", "list")
    say("models.events during the run (kind, model, by: reason):")
    for record in watch.records():
        say(f"  {record['kind']:<8} {record['model']:<9} {record['by']}: {record['reason']}")
    say(f"split (phase 1): {split.canary_entities:,} of {split.all_entities:,} entities "
        f"decided by the canary ({split.share:.1%}; {split.both} in both arms), "
        f"{split.canary_events:,} of {split.all_events:,} events")  # fmt: skip
    if rolled is None:
        problems.append(f"phase 2: the guard did not roll {bad} back within "
                        f"{plan.guard_wait_s:.0f} s")  # fmt: skip
    else:
        guard_log = session.fleet.members["guard"].process.log_file
        lines = [ln for ln in guard_log.read_text().splitlines()
                 if f"rolled back canary {bad}" in ln]  # fmt: skip
        say(f"the guard's log: {lines[-1] if lines else '(no line found)'}")
        detection, after = rollback_times(
            bad_started["at"], rolled["at"], watch.last_canary_ms.get(bad)
        )
        late = "none" if after is None else f"{after:+.3f} s"
        say(f"guard detection time (canary command → rollback): {detection:.1f} s; "
            f"rollback time (rollback → last canary decision): {late} (goal ≤ 1 s); "
            f"{watch.canary_decisions(bad):,} events decided by {bad}")  # fmt: skip
    if problems:
        return 1, "; ".join(problems)
    say(f"[green]done[/green]: {good} {phase1} as its split report said ({verdict}); "
        f"{bad} rolled back by the guard")  # fmt: skip
    return 0, ""


__all__ = ["CanaryPlan", "bad_model", "ensure_bad_model", "run_canary"]

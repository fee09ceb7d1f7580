"""One demo run's resources, set up in order and torn down in reverse, whatever happened.

What it starts it records, so that teardown stops exactly that: the services it found
stopped, the three processes of the fleet, the traffic and reader threads. The drift agent
gets a consumer group (its Faust app id) of its own per run, so that its tables start empty
and no earlier run's cooldown silences this one; the run's internal topics are deleted at
the end. The worker and the retraining worker keep one group each, moved to the end of
their input first, so that nothing an earlier run left is taken for this run's traffic.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluent_kafka.admin import AdminClient
from rich.console import Console

from drift.settings import on_services as agent_on_services
from infra import services
from infra.errors import InfraError
from infra.settings import ServicesSettings
from streams.client import ClientSettings
from streams.client.errors import KAFKA_LOG
from streams.demo.fleet import Fleet, ports
from streams.demo.outputs import OutputReader
from streams.demo.scrape import scrape
from streams.demo.traffic import (
    DemoError,
    TopicCount,
    assigned,
    prepare,
    skip_backlog,
    traffic_args,
)
from streams.retraining.settings import on_services as retrainer_on_services
from streams.topics import ensure_topics
from streams.worker.settings import on_services as worker_on_services

if TYPE_CHECKING:
    import redis

    from streams.demo.run import DemoPlan
    from streams.routing import Routing

log = logging.getLogger(__name__)
WORKER_GROUP = "streamscore-demo"
RETRAINER_GROUP = "streamscore-demo-retrainer"
READY_TIMEOUT_S = 120.0


class Session:
    def __init__(
        self, config: ServicesSettings, plan: DemoPlan, console: Console, fleet: Fleet
    ) -> None:
        self.config, self.plan, self.console, self.fleet = config, plan, console, fleet
        self.client = ClientSettings(**config.addresses(ClientSettings))
        self.agent_group = f"streamscore-demo-drift-{uuid.uuid4().hex[:8]}"
        self.started: list[services.Service] = []
        self.store: redis.Redis | None = None
        self.outputs: OutputReader | None = None
        self.counter: TopicCount | None = None

    def step(self, line: str) -> None:
        self.console.print(line)

    # -- set up ----------------------------------------------------------------------------
    def setup(self) -> None:
        config = self.config
        self.step("starting Kafka, Redis and Triton (those not running yet)")
        try:
            from streams.retraining.serving import serving_config
            from streams.simulation.starter import preparer

            triton = worker_on_services(config).triton
            prepare_repository = preparer(self.client.use_case(), serving_config(triton))
            for report in services.up(config, prepare=prepare_repository):
                if report.started:
                    self.started.append(_service(config, report.name))
            ensure_topics(
                self.client.kafka.librdkafka(logger=KAFKA_LOG), self.client.topics.specs()
            )
        except InfraError as exc:
            raise DemoError(str(exc)) from None
        self.store = worker_on_services(config).redis.client()
        routing = self.prepare_models()
        shadows = ", ".join(map(str, routing.shadows))
        self.step(f"models: {routing.primary} decides, {shadows} runs as a shadow")
        topics = self.client.topics
        skip_backlog(self.client, WORKER_GROUP, topics.events)
        skip_backlog(self.client, self.agent_group, topics.drift_summaries)
        skip_backlog(self.client, RETRAINER_GROUP, topics.retraining)
        self._start_fleet()

    def prepare_models(self) -> Routing:
        """The models and the routing the run starts with (the canary scenario, in
        streams/demo/canary.py, adds a model of its own)."""
        return prepare(self.config, self.client, self.plan.seed, self.step)

    def _start_fleet(self) -> None:
        config, plan, fleet = self.config, self.plan, self.fleet
        port = ports()
        window = {"size_s": plan.window_s}
        worker = worker_on_services(
            config, engine=plan.engine, app_id=WORKER_GROUP, metrics_port=port["worker"],
            window=window, batch={"timeout_ms": plan.batch_timeout_ms, "fetch_min_bytes": 32_768},
        )  # fmt: skip
        fleet.start("worker", worker, ["worker"], port["worker"])
        agent = agent_on_services(
            config,
            agent={"app_id": self.agent_group, "metrics_port": port["agent"],
                   "label_join": False},
            window=window,
            policy={"cooldown_s": 3600.0},  # one request per run: the drift stays
        )  # fmt: skip
        fleet.start("agent", agent, ["drift", "agent"], port["agent"])
        retrainer = retrainer_on_services(
            config,
            training={"app_id": RETRAINER_GROUP, "metrics_port": port["retrainer"],
                      "lookback_s": plan.seconds + plan.grace_s},
        )  # fmt: skip
        fleet.start("retrainer", retrainer, ["retrain", "worker"], port["retrainer"], nice=10)
        self.step(
            f"started: a scoring worker ({plan.engine} engine), the drift agent, the retraining "
            f"worker; waiting until they are ready"
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = ["worker", "agent", "retrainer"]
        while waiting:
            self.check()
            waiting = [name for name in waiting if not self._ready(name)]
            if time.monotonic() > deadline:
                raise DemoError(f"not ready after {READY_TIMEOUT_S:.0f} s: {', '.join(waiting)}")
            time.sleep(0.5)

    def _ready(self, name: str) -> bool:
        member = self.fleet.members[name]
        if not scrape(member.url).samples:
            return False
        return name != "worker" or assigned(self.client, WORKER_GROUP)

    def start_traffic(self) -> None:
        count = int(self.plan.rate * (self.plan.seconds + self.plan.grace_s))
        args = traffic_args(self.plan, count, self.client.use_case())
        self.fleet.start("traffic", self.client, args, loglevel=None)

    def stop_traffic(self) -> None:
        member = self.fleet.members.get("traffic")
        if member is not None:
            member.process.stop(timeout_s=10.0)

    def check(self) -> None:
        """Raise :class:`DemoError` when a process of the fleet died."""
        for member in self.fleet.dead():
            raise DemoError(self.fleet.describe_death(member))

    # -- the report ------------------------------------------------------------------------
    def report(self, shadow: str | None, since: float | None) -> Path | None:
        """The shadow report of ``shadow`` (the retrained version) against the primary over
        the time it ran; None (with a line) when there is nothing to report on."""
        from streams.cli.report import write
        from streams.report.build import ReportRequest, build_report
        from streams.report.errors import ReportError
        from streams.report.reading import TimeRange
        from streams.report.settings import ReportSettings

        if shadow is None or since is None:
            return None
        settings = ReportSettings(**self.config.addresses(ReportSettings))
        # From a little after its first outputs were counted: the batch that counted them
        # may have begun before the routing change, and the shadow did not score its events.
        window = TimeRange(int((since + 2) * 1000), int(time.time() * 1000))
        request = ReportRequest(window, None, shadow, (), None, 10.0, settings.thresholds())
        self.step(f"writing the shadow report of {shadow} against the primary")
        try:
            report = build_report(settings, request, settings.promotion, lambda *_: None)
        except ReportError as exc:
            self.step(f"[red]no report[/red]: {exc}")
            return None
        write(report, self.plan.report_dir)
        return self.plan.report_dir

    # -- tear down -------------------------------------------------------------------------
    def teardown(self) -> list[str]:
        """Stop everything this run started, in reverse; the names of what was stopped. A
        step that fails is logged and the next one still runs: nothing may be left behind."""
        stopped: list[str] = []
        steps: list[tuple[str, Callable[[], object]]] = []
        if self.outputs is not None:
            steps.append(("reader", self.outputs.close))
        if self.counter is not None:
            steps.append(("counter", self.counter.close))
        for member in reversed(list(self.fleet.members.values())):
            steps.append((member.name, functools.partial(member.process.stop, timeout_s=20.0)))
        steps.append(("agent topics", self._delete_agent_topics))
        if self.store is not None:
            steps.append(("redis client", self.store.close))
        for service in reversed(self.started):
            steps.append((service.name, service.stop))
        names = {m.name for m in self.fleet.members.values()} | {s.name for s in self.started}
        for name, action in steps:
            try:
                if action() is True and name in names:
                    stopped.append(name)
            except Exception:
                log.exception("stopping %s failed", name)
        return stopped

    def _delete_agent_topics(self) -> None:
        with contextlib.suppress(Exception):  # best effort: only tidiness is at stake
            admin = AdminClient(self.client.kafka.librdkafka(logger=KAFKA_LOG))
            names = [
                t for t in admin.list_topics(timeout=5).topics if t.startswith(self.agent_group)
            ]
            if names:
                for future in admin.delete_topics(names, operation_timeout=10).values():
                    future.result(10)


def _service(config: ServicesSettings, name: str) -> Any:
    return next(s for s in services.services(config) if s.name == name)

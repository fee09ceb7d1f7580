"""Bring the three local services up, down, and report on them, in dependency order."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.kafka_server import KafkaServer
from infra.process import require_free_ports
from infra.redis_server import RedisServer
from infra.service import Health, Service
from infra.settings import ServicesSettings
from infra.triton_server import TritonServer


def services(
    config: ServicesSettings, prepare: Callable[[Path], object] | None = None
) -> list[Service]:
    """The three services; ``prepare`` fills the model repository before Triton starts."""
    return [KafkaServer(config), RedisServer(config), TritonServer(config, prepare)]


@dataclass(frozen=True, slots=True)
class StartReport:
    name: str
    started: bool  # False: it was already running
    seconds: float


def up(
    config: ServicesSettings,
    on_started: Callable[[StartReport], None] | None = None,
    prepare: Callable[[Path], object] | None = None,
) -> list[StartReport]:
    """Install what is missing, then start each service and wait until it is healthy;
    ``prepare`` fills the model repository before Triton starts.

    Idempotent: a service already running under this state folder is left as it is. If one
    fails to start, the ones started by this call are stopped again.
    """
    for service in services(config):
        service.ensure_installed()
    # Check every port before starting anything, so a taken port costs no start-up.
    for service in services(config):
        if not service.running():
            require_free_ports(service.name, config.host, service.ports())
    reports: list[StartReport] = []
    started: list[Service] = []
    try:
        for service in services(config, prepare):
            t0 = time.monotonic()
            did_start = service.start()
            if did_start:
                started.append(service)
            report = StartReport(service.name, did_start, time.monotonic() - t0)
            reports.append(report)
            if on_started is not None:
                on_started(report)
    except BaseException:
        for service in reversed(started):
            service.stop()
        raise
    return reports


def down(config: ServicesSettings) -> dict[str, bool]:
    """Stop every service (reverse order); True for each one that was running."""
    return {s.name: s.stop() for s in reversed(services(config))}


def status(config: ServicesSettings) -> list[Health]:
    return [s.health() for s in services(config)]

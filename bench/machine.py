"""What the numbers were measured on: CPU, cores, memory, and every version that matters."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.stack import Stack


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe(stack: Stack | None) -> dict[str, Any]:
    import confluent_kafka

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(_memory_gib(), 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "librdkafka": confluent_kafka.libversion()[0],
        "packages": {
            d: _version(d)
            for d in (
                "confluent-kafka",
                "faust-streaming",
                "aiokafka",
                "redis",
                "hiredis",
                "tritonclient",
                "nvidia-pytriton",
                "torch",
                "numpy",
                "fastavro",
            )
        },
    }
    if stack is not None:
        info["kafka"] = stack.config.kafka_version
        info["redis"] = stack.redis_server.health().version
        info["triton"] = stack.triton.health().version
    return info

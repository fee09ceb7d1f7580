"""`python -m infra install`: fetch or install what the services need (idempotent).

Called by `make install`, so a fresh machine gets the Kafka jars, redis-server and the
Triton Python-backend folder without any step done by hand.
"""

from __future__ import annotations

import sys
import time

from infra.errors import InfraError
from infra.services import services
from infra.settings import ServicesSettings


def main(argv: list[str]) -> int:
    if argv != ["install"]:
        print("usage: python -m infra install", file=sys.stderr)
        return 2
    config = ServicesSettings()
    for service in services(config):
        t0 = time.monotonic()
        try:
            service.ensure_installed()
        except InfraError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{service.name:<7} installed ({time.monotonic() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

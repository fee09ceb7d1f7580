"""`python -m infra install [--tests]`: fetch or install what the services need (idempotent).

Called by `make install`, so a fresh machine gets Java, Maven, the Kafka jars, redis-server
and the Triton Python-backend folder without any step done by hand. ``--tests`` (`make
test`) adds what only the tests use: tmux, in which a test drives the live demo, and
promtool, which checks the alerting rules (infra/promtool.py).
"""

from __future__ import annotations

import shutil
import sys
import time

from infra.apt import apt_install
from infra.errors import InfraError
from infra.promtool import ensure_promtool
from infra.services import services
from infra.settings import ServicesSettings


def main(argv: list[str]) -> int:
    if argv not in (["install"], ["install", "--tests"]):
        print("usage: python -m infra install [--tests]", file=sys.stderr)
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
    if "--tests" in argv:
        try:
            if shutil.which("tmux") is None:
                apt_install("tests", ["tmux"], "tmux")
            ensure_promtool(config.cache_dir)  # the alerting rules' checker
        except InfraError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

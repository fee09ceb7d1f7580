"""Debian packages a fresh machine lacks, installed the way `make install` does everything:
by the project's own scripts, never by hand.

Only as root with ``apt-get`` on PATH (a Debian or Ubuntu machine, or a container of one);
anywhere else the caller's one line says which package to install and how.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from infra.errors import MissingToolError


def apt_install(service: str, packages: list[str], missing: str) -> None:
    """Install ``packages`` non-interactively, or raise :class:`MissingToolError` naming
    ``missing`` (what was not found) and the command that installs it."""
    apt = shutil.which("apt-get")
    command = f"apt-get install {' '.join(packages)}"
    if apt is None or os.geteuid() != 0:
        raise MissingToolError(
            f"{service}: {missing} not found; install it (sudo {command}) or put it on PATH"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"{service}: installing {', '.join(packages)} from Debian's packages", flush=True)
    for argv in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", *packages]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise MissingToolError(
                f"{service}: `{' '.join(argv)}` failed; install {missing} by hand ({command}):\n"
                + result.stderr[-800:]
            )

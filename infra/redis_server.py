"""Redis 7 from the ``redis-server`` binary, installed from Debian's packages when missing.

No persistence: the online feature store is rebuilt by ``streamscore features load`` and the
streaming update path, so snapshots would only cost disk writes on the scoring machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from infra.errors import MissingToolError
from infra.process import port_is_open
from infra.service import Health, LocalService


class RedisServer(LocalService):
    name = "redis"

    def ensure_installed(self) -> None:
        if redis_server_binary() is not None:
            return
        apt = shutil.which("apt-get")
        if apt is None or os.geteuid() != 0:
            raise MissingToolError(
                "redis: redis-server not found; install it (sudo apt-get install redis-server) "
                "or put it on PATH"
            )
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "redis-server"]):
            result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            if result.returncode != 0:
                raise MissingToolError(
                    f"redis: `{' '.join(argv)}` failed; install redis-server by hand:\n"
                    + result.stderr[-800:]
                )
        # The Debian package starts a system service on 6379; ours runs under its own pid file.
        subprocess.run(["service", "redis-server", "stop"], capture_output=True, check=False)

    def _launch(self) -> None:
        cfg = self.config
        binary = redis_server_binary()
        assert binary is not None
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            binary, "--bind", cfg.host, "--port", str(cfg.redis_port),
            "--save", "", "--appendonly", "no", "--dir", str(self.home),
            "--daemonize", "no", "--protected-mode", "no",
        ]  # fmt: skip
        self.process.start(argv, cwd=self.home)
        (self.home / "meta.json").write_text(json.dumps({"url": cfg.redis_url}))

    def ports(self) -> dict[str, int]:
        return {"redis_port": self.config.redis_port}

    def health(self) -> Health:
        import redis

        cfg = self.config
        address = f"{cfg.host}:{cfg.redis_port}"
        if not port_is_open(cfg.host, cfg.redis_port):
            return Health(self.name, address, False, detail="nothing listens on the port")
        try:
            client = redis.Redis(host=cfg.host, port=cfg.redis_port, socket_timeout=2)
            client.ping()
            info = client.info("server")
            client.close()
        except redis.RedisError as exc:
            return Health(self.name, address, False, detail=str(exc))
        return Health(self.name, address, True, version=str(info.get("redis_version", "")))


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )

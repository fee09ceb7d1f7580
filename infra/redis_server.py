"""Redis 7 from the ``redis-server`` binary, installed from Debian's packages when missing.

No persistence: the online feature store is rebuilt by ``streamscore features load`` and the
streaming update path, so snapshots would only cost disk writes on the scoring machine.

Security is settings alone: ``redis_tls`` serves TLS only (``--tls-port``, ``--port 0``) with
the certificate of infra/tls.py, clients unauthenticated at the TLS level
(``--tls-auth-clients no``); ``redis_password`` turns on AUTH, for the ACL user
``redis_username`` (the default user is then off) or else for the default user. Debian's
redis-server links OpenSSL, so TLS needs no other build. The password reaches the server as
its SHA-256 in a config file of mode 0600, never on the command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from typing import Any

from infra.apt import apt_install
from infra.process import port_is_open
from infra.service import Health, LocalService
from infra.settings import ServicesSettings
from infra.tls import ensure_certificates


class RedisServer(LocalService):
    name = "redis"

    def ensure_installed(self) -> None:
        if redis_server_binary() is not None:
            return
        apt_install("redis", ["redis-server"], "redis-server")
        # The Debian package starts a system service on 6379; ours runs under its own pid file.
        subprocess.run(["service", "redis-server", "stop"], capture_output=True, check=False)

    def _launch(self) -> None:
        cfg = self.config
        binary = redis_server_binary()
        assert binary is not None
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            binary, str(self._write_config()), "--bind", cfg.host,
            "--save", "", "--appendonly", "no", "--dir", str(self.home),
            "--daemonize", "no", "--protected-mode", "no",
        ]  # fmt: skip
        if cfg.redis_tls:
            certs = ensure_certificates(cfg.tls_dir, cfg.host)
            argv += [
                "--port", "0", "--tls-port", str(cfg.redis_port),
                "--tls-cert-file", str(certs.cert), "--tls-key-file", str(certs.key),
                "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "no",
            ]  # fmt: skip
        else:
            argv += ["--port", str(cfg.redis_port)]
        self.process.start(argv, cwd=self.home)
        (self.home / "meta.json").write_text(json.dumps({"url": cfg.redis_url}))

    def _write_config(self) -> str:
        """The ACL rules, in a file only this user can read: a password as its SHA-256."""
        cfg = self.config
        lines = []
        if cfg.redis_password is not None:
            digest = hashlib.sha256(cfg.redis_password.get_secret_value().encode()).hexdigest()
            everything = f"on #{digest} ~* &* +@all"
            if cfg.redis_username is None or cfg.redis_username == "default":
                lines.append(f"user default {everything}")
            else:
                lines += ["user default off", f"user {cfg.redis_username} {everything}"]
        path = self.home / "redis.conf"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(line + "\n" for line in lines))
        return str(path)

    def ports(self) -> dict[str, int]:
        return {"redis_port": self.config.redis_port}

    def health(self) -> Health:
        import redis

        cfg = self.config
        address = f"{cfg.host}:{cfg.redis_port}"
        if not port_is_open(cfg.host, cfg.redis_port):
            return Health(self.name, address, False, detail="nothing listens on the port")
        try:
            client = redis.Redis(host=cfg.host, port=cfg.redis_port, socket_timeout=2,
                                 **client_options(cfg))  # fmt: skip
            client.ping()
            info = client.info("server")
            client.close()
        except redis.RedisError as exc:
            return Health(self.name, address, False, detail=str(exc))
        return Health(self.name, address, True, version=str(info.get("redis_version", "")))


def client_options(config: ServicesSettings) -> dict[str, Any]:
    """redis-py keyword arguments that log in to these services (the health check's)."""
    options: dict[str, Any] = {}
    if config.redis_tls:
        options |= {"ssl": True, "ssl_ca_certs": str(config.ca_file)}
    if config.redis_password is not None:
        options |= {
            "username": config.redis_username,
            "password": config.redis_password.get_secret_value(),
        }
    return options


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )

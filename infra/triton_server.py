"""NVIDIA Triton Inference Server from the ``tritonserver`` binary in the nvidia-pytriton wheel.

The wheel ships the server, the Python backend library and one backend stub per Python
version. The stub is a separate process that embeds libpython, so (checked on these machines):

- the stub for *this* interpreter's version goes beside ``libtriton_python.so``;
- ``LD_LIBRARY_PATH`` starts with this interpreter's ``LIBDIR`` so the stub loads the same
  libpython, then the wheel's ``nvidia_pytriton.libs`` (the stub needs its libcudart);
- this venv's ``bin`` leads ``PATH`` so the embedded interpreter finds this environment's
  site-packages (torch, numpy < 2).

Triton runs with explicit model control: every model in the repository is loaded at start,
and versions are loaded and unloaded through the API afterwards without a restart. Before
it starts, ``prepare`` (given by `streamscore up` and the tests) puts the project's first
versions into the repository (streams/simulation/starter.py): a Triton with no model never
becomes ready. With
``triton_admin_key`` set, the model-repository protocol (load, unload, repository index) is
restricted, over gRPC and HTTP, to requests carrying that key in the ``admin-key`` header
(``--grpc-restricted-protocol``, ``--http-restricted-api``); inference stays open. The key is
on tritonserver's command line (it has no other way to take it): readable by local users who
can list processes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

from infra.errors import MissingToolError
from infra.process import port_is_open
from infra.service import Health, LocalService
from infra.settings import ServicesSettings


class TritonServer(LocalService):
    name = "triton"
    stop_timeout_s = 30.0

    def __init__(
        self, config: ServicesSettings, prepare: Callable[[Path], object] | None = None
    ) -> None:
        super().__init__(config)
        self.backends = self.home / "backends"
        self.prepare = prepare

    def ensure_installed(self) -> None:
        dist = pytriton_server_dir()
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = dist / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.exists():
            raise MissingToolError(
                f"triton: nvidia-pytriton has no Python-backend stub for Python {version}; "
                "use Python 3.8-3.13"
            )
        target = self.backends / "python"
        target.mkdir(parents=True, exist_ok=True)
        for src in (
            dist / "backends" / "python" / "libtriton_python.so",
            dist / "backends" / "python" / "triton_python_backend_utils.py",
            stub,
        ):
            dst = target / src.name
            if not dst.exists() or dst.stat().st_size != src.stat().st_size:
                shutil.copy2(src, dst)

    def _launch(self) -> None:
        cfg = self.config
        if self.prepare is not None:
            self.prepare(cfg.model_repository)
        argv = [
            str(pytriton_server_dir() / "bin" / "tritonserver"),
            f"--model-repository={cfg.model_repository}",
            f"--backend-directory={self.backends}",
            "--model-control-mode=explicit", "--load-model=*",
            f"--http-address={cfg.host}", f"--http-port={cfg.triton_http_port}",
            f"--grpc-address={cfg.host}", f"--grpc-port={cfg.triton_grpc_port}",
            f"--metrics-address={cfg.host}", f"--metrics-port={cfg.triton_metrics_port}",
            "--allow-metrics=true", "--allow-gpu-metrics=false",
            "--strict-readiness=true", "--exit-on-error=true", "--log-verbose=0",
            # Two servers on one host (tests beside `streamscore up`) must not share shm names.
            f"--backend-config=python,shm-region-prefix-name=streamscore{cfg.triton_grpc_port}_",
        ]  # fmt: skip
        if cfg.triton_admin_key is not None:
            from inference.triton_client import ADMIN_HEADER

            rule = f"model-repository:{ADMIN_HEADER}={cfg.triton_admin_key.get_secret_value()}"
            argv += [f"--grpc-restricted-protocol={rule}", f"--http-restricted-api={rule}"]
        self.process.start(argv, env=stub_environment(), cwd=self.home)
        (self.home / "meta.json").write_text(json.dumps({"grpc": cfg.triton_grpc_url}))

    def ports(self) -> dict[str, int]:
        cfg = self.config
        return {
            "triton_http_port": cfg.triton_http_port,
            "triton_grpc_port": cfg.triton_grpc_port,
            "triton_metrics_port": cfg.triton_metrics_port,
        }

    def health(self) -> Health:
        from inference.triton_client import TritonConfig

        cfg = self.config
        address = cfg.triton_grpc_url
        if not port_is_open(cfg.host, cfg.triton_grpc_port):
            return Health(self.name, address, False, detail="nothing listens on the port")
        try:
            client = TritonConfig(grpc_url=address, admin_key=cfg.triton_admin_key).client()
            try:
                if not client.is_server_ready(client_timeout=2):
                    return Health(self.name, address, False, detail="server not ready")
                version = client.get_server_metadata(client_timeout=2).version
                index = client.get_model_repository_index(client_timeout=2).models
            finally:
                client.close()
        except Exception as exc:  # tritonclient raises several kinds; all mean "not healthy"
            return Health(self.name, address, False, detail=str(exc).splitlines()[0])
        ready = sorted(f"{m.name}:{m.version}" for m in index if m.state == "READY")
        if not ready:
            return Health(self.name, address, False, version, detail="no model is ready")
        return Health(self.name, address, True, version, detail="ready: " + ", ".join(ready))


def pytriton_server_dir() -> Path:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise MissingToolError(
            "triton: the nvidia-pytriton wheel is not installed; run `make install`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "tritonserver"


def stub_environment() -> dict[str, str]:
    """Environment for tritonserver whose Python stub must match this interpreter."""
    env = dict(os.environ)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    # The stub links the wheel's bundled libraries (libcudart, …) by their hashed names.
    bundled = pytriton_server_dir().parent.parent / "nvidia_pytriton.libs"
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (libdir, str(bundled), env.get("LD_LIBRARY_PATH", "")) if p
    )
    # The embedded interpreter finds its prefix (and so this venv's site-packages) from the
    # first `python3` on PATH, as pytriton arranges it; PYTHONPATH alone is not honoured.
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    site = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(site))
    env.setdefault("OMP_NUM_THREADS", "1")
    return env

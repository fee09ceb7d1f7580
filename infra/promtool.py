"""promtool, Prometheus's rule checker, for the tests of infra/prometheus/alerts.yml.

Taken from Debian's ``prometheus`` package the way the Kafka jars come from Maven: the
package is downloaded once (``apt-get download``, no install: no daemon is set up or started)
and only ``usr/bin/promtool`` is kept, under ``<cache_dir>/promtool/<version>/``. A
``promtool`` already on PATH is used as it is. `python -m infra install --tests` calls
:func:`ensure_promtool`; so does the test, which thus never skips for want of it.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from infra.errors import MissingToolError

PACKAGE = "prometheus"
MEMBER = "./usr/bin/promtool"


def _run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def cached_promtool(cache_dir: Path) -> Path | None:
    """promtool from PATH, or the one kept in the cache; None when neither is there."""
    found = shutil.which("promtool")
    if found:
        return Path(found)
    kept = sorted((cache_dir / "promtool").glob("*/promtool"))
    return kept[-1] if kept else None


def ensure_promtool(cache_dir: Path) -> Path:
    """The path of a working promtool, fetched into ``cache_dir`` when none is there."""
    found = cached_promtool(cache_dir)
    if found is not None:
        return found
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise MissingToolError(
            "promtool not found and no apt-get here; install Prometheus's promtool on PATH"
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = _run(["apt-get", "download", PACKAGE], cwd=work)
        if result.returncode != 0:  # the package lists may not be there yet
            _run(["apt-get", "update", "-qq"])
            result = _run(["apt-get", "download", PACKAGE], cwd=work)
        debs = sorted(work.glob(f"{PACKAGE}_*.deb"))
        if result.returncode != 0 or not debs:
            raise MissingToolError(
                f"promtool: `apt-get download {PACKAGE}` failed: {result.stderr.strip()[-400:]}"
            )
        version = debs[0].name.split("_")[1]
        target = cache_dir / "promtool" / version
        target.mkdir(parents=True, exist_ok=True)
        tar = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(debs[0])], capture_output=True, check=True
        ).stdout
        archive = work / "data.tar"
        archive.write_bytes(tar)
        with tarfile.open(archive) as data:
            member = data.extractfile(MEMBER)
            if member is None:
                raise MissingToolError(f"promtool: {debs[0].name} has no {MEMBER}")
            partial = target / "promtool.partial"
            partial.write_bytes(member.read())
    partial.chmod(0o755)
    partial.replace(target / "promtool")  # atomic: a concurrent caller sees all or nothing
    return target / "promtool"

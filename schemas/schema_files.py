"""The bundled schemas (schemas/*.avsc): their names, their JSON, their identities."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

SCHEMA_DIR = Path(__file__).resolve().parent


def schema_names() -> list[str]:
    """Names of the bundled schemas: the stems of schemas/*.avsc."""
    return sorted(path.stem for path in SCHEMA_DIR.glob("*.avsc"))


@functools.cache
def _schema_text(name: str) -> str:
    return (SCHEMA_DIR / f"{name}.avsc").read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """One bundled schema as JSON; a fresh dict per call, so callers cannot alter each other's."""
    return json.loads(_schema_text(name))


def full_name(schema: Mapping[str, Any]) -> str:
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def fingerprint(schema: Mapping[str, Any]) -> bytes:
    """The 8 header bytes of single-object encoding for ``schema``.

    fastavro follows Java: the canonical form writes logical types as their primitive, and
    the hex it returns is already the little-endian byte order the spec puts on the wire.
    """
    canonical = to_parsing_canonical_form(dict(schema))
    return bytes.fromhex(_fastavro_fingerprint(canonical, "CRC-64-AVRO"))

"""The bundled example projects, as the tests use them, and the fraud example's generator.

``FRAUD`` is the default project (examples/fraud); tests that speak of its fields take them
from here, never from the core. :func:`derived` writes a copy of an example with some keys
changed, in a folder of the test's (a project nobody shipped is one of those).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from schemas.codec import AvroCodec, WriterSchemas
from schemas.project import DEFAULT_PROJECT, EXAMPLES, Project, load_project

FRAUD: Project = load_project(DEFAULT_PROJECT)
FRAUD_GENERATOR: Any = FRAUD.entry_point("generator:FraudGenerator")
_fraud = FRAUD.entry_point("generator:sample_features").__module__
FRAUD_MODULE: Any = __import__("sys").modules[_fraud]

# The fraud example's event fields that are model inputs, and its features, in order.
EVENT_FIELDS: tuple[str, ...] = FRAUD_MODULE.EVENT_FIELDS
FEATURE_NAMES: tuple[str, ...] = FRAUD.feature_names
N_EVENT = len(EVENT_FIELDS)
INPUT_WIDTH = FRAUD.layout.width
DEFAULTS = FRAUD.feature_defaults
INT_FIELDS = {"items", "hour_of_day", "device_age_days"}
BOOL_FIELDS = {"is_foreign"}


def sample_features(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` fraud rows of every input (event fields, then features), float32."""
    return FRAUD_MODULE.sample_features(rng, n)  # type: ignore[no-any-return]


def true_probability(x: np.ndarray) -> np.ndarray:
    """The fraud example's ground truth of rows of every input."""
    return FRAUD_MODULE.true_probability(x)  # type: ignore[no-any-return]


def labelled_dataset(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fraud rows and 0/1 labels drawn from the ground truth; same seed, same data."""
    rng = np.random.default_rng(seed)
    x = sample_features(rng, n)
    y = (rng.random(n) < true_probability(x)).astype(np.float32)
    return x, y


def event_fields(row: np.ndarray) -> dict[str, Any]:
    """A fraud row's event part as an event's fields (ints and booleans cast as Avro)."""
    out: dict[str, Any] = {}
    for j, name in enumerate(EVENT_FIELDS):
        value = row[j]
        if name in BOOL_FIELDS:
            out[name] = bool(value)
        elif name in INT_FIELDS:
            out[name] = int(value)
        else:
            out[name] = float(value)
    return out


def example(name: str) -> Project:
    return load_project(EXAMPLES / name)


def derived(
    base: Path | str,
    folder: Path,
    changes: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Path:
    """A copy of the example ``base`` (a name under examples/, or a folder) in ``folder``,
    its streamscore.yaml updated with ``changes`` (top-level sections merged one level
    deep); the new file's path."""
    source = EXAMPLES / base if isinstance(base, str) else base
    shutil.copytree(source, folder, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    path = folder / "streamscore.yaml"
    data = yaml.safe_load(path.read_text())
    for key, value in (changes or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    if name is not None:
        data["name"] = name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def project_codec(project: Project, role: str, logical_types: bool = True) -> AvroCodec:
    """The codec of a project's schema (``event``, ``label``, ``entity_features``), reading
    the bundled, the project's and their released schemas (single-object framing)."""
    writers = WriterSchemas.bundled()
    for known in (*project.schemas.values(), *project.released):
        writers.add(known)
    return AvroCodec(project.schema(role), writers=writers, logical_types=logical_types)


def fraud_codec(role: str, logical_types: bool = True) -> AvroCodec:
    """:func:`project_codec` of the fraud example."""
    return project_codec(FRAUD, role, logical_types)

"""The model's input layout: the project's ``inputs``, compiled into columns of a matrix.

One place owns the order of a model's inputs, so that the worker, training, the golden set,
reference distributions and replay all build the very same float32 rows. A project's inputs
become columns in their order; a one-hot input becomes one column per category
(``channel=web``, ``channel=app``, ...), every other input one column::

    [ km, items, ..., channel=web, channel=app, channel=other | avg_speed, rating, ... ]
      └── event fields (numbers, booleans, categories) ─────────┘   └── the feature view ──┘

(any order: the inputs' order is the columns' order). Values are built column by column
from the batch's event columns (:class:`FieldColumns`) and its feature vectors (one row per
event, the view's features in the view's order), in numpy, with no Python object per value
except one dict lookup per categorical value.

Absent values: a null optional event field takes the input's ``default``; a missing or stale
feature vector holds the view's defaults already (streams/features/store.py). A categorical
value outside the vocabulary goes to the ``unknown`` bucket. Transforms apply last, to the
value or its default: ``log1p`` then ``clip`` as listed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np

from schemas.project.avro import base_kind


@dataclass(slots=True)
class FieldColumns:
    """Event fields of a batch as columns: numbers (float64; booleans as 0/1), whether an
    optional field was present (absent: no entry, always present), text (strings, enum
    symbols; None where absent)."""

    numbers: dict[str, np.ndarray] = dataclass_field(default_factory=dict)
    present: dict[str, np.ndarray] = dataclass_field(default_factory=dict)
    text: dict[str, list[str | None]] = dataclass_field(default_factory=dict)

    def take(self, rows: np.ndarray) -> FieldColumns:
        """The rows where the boolean mask ``rows`` is true."""
        picks = np.flatnonzero(rows).tolist()
        return FieldColumns(
            {k: v[rows] for k, v in self.numbers.items()},
            {k: v[rows] for k, v in self.present.items()},
            {k: [t[i] for i in picks] for k, t in self.text.items()},
        )

    @classmethod
    def of_records(
        cls, records: Sequence[Mapping[str, Any]], numbers: Sequence[str], text: Sequence[str]
    ) -> FieldColumns:
        """The same columns from decoded records (a training set, the golden set, a test)."""
        out = cls()
        n = len(records)
        for name in numbers:
            values = [r.get(name) for r in records]
            present = np.fromiter((v is not None for v in values), dtype=bool, count=n)
            out.numbers[name] = np.array(
                [float(v) if v is not None else np.nan for v in values], dtype=np.float64
            ).reshape(n)
            if not present.all():
                out.present[name] = present
        for name in text:
            out.text[name] = [None if r.get(name) is None else str(r[name]) for r in records]
        return out


@dataclass(frozen=True, slots=True)
class _Step:
    """How one input fills its column(s): ``start`` and ``width`` in the matrix."""

    name: str
    source: str  # event | feature
    field: str
    kind: str  # numeric | boolean | categorical
    start: int
    width: int
    default: float  # numbers: the raw default; categorical: the default category's index
    codes: dict[str, int] = dataclass_field(default_factory=dict)  # categorical: value -> index
    unknown: int = 0  # categorical: the bucket's index
    one_hot: bool = False
    transforms: tuple[Any, ...] = ()
    feature: int = -1  # feature inputs: the position in the view's vector


class InputLayout:
    """Columns of the model input, and how to build them for a batch."""

    def __init__(
        self,
        steps: Sequence[_Step],
        columns: Sequence[str],
        hash_parts: list[Any],
        feature_names: Sequence[str],
    ) -> None:
        self.steps = tuple(steps)
        self.columns: tuple[str, ...] = tuple(columns)
        self.width = len(self.columns)
        self._hash = hashlib.sha256(json.dumps(hash_parts).encode()).hexdigest()
        self.feature_names = tuple(feature_names)
        event = [s for s in self.steps if s.source == "event"]
        self.number_fields = tuple(dict.fromkeys(s.field for s in event if s.kind != "categorical"))
        self.text_fields = tuple(dict.fromkeys(s.field for s in event if s.kind == "categorical"))
        feature_cols = [
            c
            for s in self.steps
            if s.source == "feature"
            for c in range(s.start, s.start + s.width)
        ]
        # The columns that come from the feature store: drift counts them only for events
        # whose vector was found and fresh (drift/summary.py).
        self.feature_columns = np.array(feature_cols, dtype=np.int64)
        self._block = self._plain_block()

    @property
    def hash(self) -> str:
        """sha256 of the ordered inputs, their types, encodings and transforms: equal for two
        versions with the same inputs, different when one is added, removed, renamed, retyped,
        re-encoded or moved."""
        return self._hash

    def _plain_block(self) -> tuple[int, int, int] | None:
        """(start column, first feature, count) when the feature inputs are one run of plain
        columns in the view's order: then they are copied as one block."""
        steps = [s for s in self.steps if s.source == "feature"]
        if not steps or any(s.transforms for s in steps):
            return None
        first = steps[0]
        for k, s in enumerate(steps):
            if s.start != first.start + k or s.feature != first.feature + k:
                return None
        return first.start, first.feature, len(steps)

    def matrix(self, events: FieldColumns, features: np.ndarray) -> np.ndarray:
        """The (rows, width) float32 input of a batch; ``features`` is (rows, view width)."""
        n = len(features)
        x = np.empty((n, self.width), dtype=np.float32)
        block = self._block
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if block is not None:
                start, first, count = block
                x[:, start : start + count] = features[:, first : first + count]
            for step in self.steps:
                if step.source == "feature":
                    if block is None:
                        x[:, step.start] = _transformed(features[:, step.feature], step)
                elif step.kind == "categorical":
                    codes = self._codes(events.text[step.field], step)
                    if step.one_hot:
                        cols = x[:, step.start : step.start + step.width]
                        cols[:] = 0.0
                        cols[np.arange(n), codes] = 1.0
                    else:
                        x[:, step.start] = codes
                else:
                    values = events.numbers[step.field]
                    present = events.present.get(step.field)
                    if present is not None and not present.all():
                        values = np.where(present, values, step.default)
                    x[:, step.start] = _transformed(values, step)
        return x

    @staticmethod
    def _codes(texts: list[str | None], step: _Step) -> np.ndarray:
        get, unknown, default = step.codes.get, step.unknown, int(step.default)
        return np.fromiter(
            (default if t is None else get(t, unknown) for t in texts), np.int64, len(texts)
        )

    def describe(self) -> list[tuple[str, str]]:
        """(columns, what fills them) per input, for `project check`."""
        rows = []
        for step in self.steps:
            cols = self.columns[step.start : step.start + step.width]
            where = f"{step.source} {step.field}"
            if step.kind == "categorical":
                how = "one-hot" if step.one_hot else "index"
                names = sorted(step.codes, key=step.codes.__getitem__)
                buckets = ", ".join(names)
                unknown = self.columns[step.start + step.unknown] if step.one_hot else ""
                where += f", categorical {how} of {buckets}"
                where += f" (unknown → {unknown or step.unknown})"
            else:
                where += f", {step.kind}"
            if step.transforms:
                where += ", " + " then ".join(_name(t) for t in step.transforms)
            label = cols[0] if len(cols) == 1 else f"{cols[0]} … {cols[-1]} ({len(cols)})"
            rows.append((label, where))
        return rows


def _name(transform: Any) -> str:
    if transform == "log1p":
        return "log1p"
    low, high = transform["clip"]
    return f"clip [{low}, {high}]"


def _transformed(values: np.ndarray, step: _Step) -> np.ndarray:
    for t in step.transforms:
        if t == "log1p":
            values = np.log1p(values)
        else:
            low, high = t["clip"]
            values = np.clip(
                values, -np.inf if low is None else low, np.inf if high is None else high
            )
    return values


@dataclass(frozen=True, slots=True)
class InputPlan:
    """What :func:`compile_layout` needs of one input, already checked against the files."""

    name: str
    source: str
    field: str
    kind: str
    avro_type: str  # the field's (or feature's) Avro type, nullable- dropped
    default: Any
    vocabulary: tuple[str, ...] = ()
    unknown: str | None = None
    one_hot: bool = True
    transforms: tuple[Any, ...] = ()


def compile_layout(plans: Sequence[InputPlan], feature_names: Sequence[str]) -> InputLayout:
    steps: list[_Step] = []
    columns: list[str] = []
    hash_parts: list[Any] = []
    for p in plans:
        start = len(columns)
        avro = base_kind(p.avro_type)
        extra: dict[str, Any] = {"from": p.source, "field": p.field}
        codes: dict[str, int] = {}
        unknown, feature = 0, -1
        if p.kind == "categorical":
            buckets = list(p.vocabulary)
            if p.unknown is not None and p.unknown not in buckets:
                buckets.append(p.unknown)
            codes = {v: i for i, v in enumerate(buckets)}
            unknown = codes[p.unknown] if p.unknown is not None else 0
            index = codes.get(str(p.default), unknown) if p.default is not None else unknown
            width, default = (len(buckets) if p.one_hot else 1), float(index)
            columns += [f"{p.name}={b}" for b in buckets] if p.one_hot else [p.name]
            extra |= {"categorical": buckets, "one_hot": p.one_hot}
        else:
            width, default = 1, float(p.default) if p.default is not None else 0.0
            feature = feature_names.index(p.field) if p.source == "feature" else -1
            columns.append(p.name)
        extra["transform"] = list(p.transforms)
        one_hot = p.kind == "categorical" and p.one_hot
        steps.append(
            _Step(
                p.name,
                p.source,
                p.field,
                p.kind,
                start,
                width,
                default,
                codes,
                unknown,
                one_hot,
                p.transforms,
                feature,
            )
        )
        # A plain input hashes as [name, avro type]: the layout hash of versions trained
        # before project files (inference/card.py) stays the same for the same inputs.
        plain = p.kind != "categorical" and p.field == p.name and not p.transforms
        hash_parts.append([p.name, avro] if plain else [p.name, avro, extra])
    return InputLayout(steps, columns, hash_parts, feature_names)

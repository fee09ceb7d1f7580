"""The golden set and its regression gate: curated events a sound model must decide as expected.

The holdout gate (inference/gate.py) judges a candidate on average; an average can hide a
candidate that now turns plainly safe events into suspects. A project's golden set
(``gates.golden`` in its file, JSON Lines) is a fixed list of clear-cut events, each with the
decision it must get, a ``segment`` and a one-line ``why``. A row holds the event fields and
the entity features the model's inputs read, by name (a feature left out takes the view's
default). A candidate's decisions on it are taken by the model's decider
(schemas/project/decisions.py); every decision that differs from ``expected`` is a *flip*,
and more than ``STREAMSCORE_RETRAIN_GATE_GOLDEN_MAX_FLIPS`` flips reject the candidate,
naming the rows.

The fraud example's set is written by a deterministic script (examples/fraud/golden_build.py),
and a test checks that the committed file is what it writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inference.gate import GateDecision
from schemas.project import Decider, FieldColumns, Project

SHOWN_FLIPS = 5  # a reason names at most this many flipped rows


@dataclass(frozen=True, slots=True)
class GoldenSet:
    """The rows of a golden set: ids, model inputs (the project's layout), expected
    decision indices (of ``names``), segments and why each decision is expected."""

    ids: tuple[str, ...]
    x: np.ndarray
    expected: np.ndarray
    segments: tuple[str, ...]
    why: tuple[str, ...]
    names: tuple[str, ...]  # the decider's decision names

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(cls, rows: list[Mapping[str, Any]], project: Project) -> GoldenSet:
        """Rows as a golden file holds them; a row lacking a field or naming an unknown
        decision is a ValueError naming the row."""
        layout = project.layout
        names = project.decider(project.default_model.name).names
        ids, expected, segments, why = [], [], [], []
        features = np.tile(project.feature_defaults, (len(rows), 1))
        for number, row in enumerate(rows, 1):
            try:
                for name in (*layout.number_fields, *layout.text_fields):
                    if name not in row:
                        raise KeyError(name)
                for j, name in enumerate(project.feature_names):
                    if name in row:
                        features[number - 1, j] = float(row[name])
                decision = str(row["expected"])
                ids.append(str(row["id"]))
                segments.append(str(row.get("segment") or "none"))
                why.append(str(row["why"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"golden row {number}: missing or bad field {exc}") from None
            if decision not in names:
                raise ValueError(f"golden row {number}: unknown decision {decision!r} "
                                 f"(the decisions are {', '.join(names)})")  # fmt: skip
            expected.append(names.index(decision))
        columns = FieldColumns.of_records(rows, layout.number_fields, layout.text_fields)
        x = layout.matrix(columns, features) if rows else np.empty((0, layout.width), np.float32)
        return cls(tuple(ids), x, np.asarray(expected, dtype=np.int64), tuple(segments),
                   tuple(why), names)  # fmt: skip

    @classmethod
    def load(cls, path: Path, project: Project) -> GoldenSet:
        lines = path.read_text().splitlines()
        return cls.from_rows([json.loads(line) for line in lines if line.strip()], project)


def project_set(project: Project) -> GoldenSet | None:
    """The project's golden set (``gates.golden``); None when it names none."""
    golden = project.spec.gates.golden
    return None if golden is None else GoldenSet.load(project.resolve(golden), project)


def golden_gate(
    candidate_outputs: np.ndarray,
    primary_outputs: np.ndarray,
    golden: GoldenSet,
    decider: Decider,
    max_flips: int,
) -> GateDecision:
    """Count the candidate's flips on ``golden`` (the primary's are reported beside them, for
    comparison only); reject when they exceed ``max_flips``."""
    candidate = decider.decide(np.asarray(candidate_outputs))
    primary = decider.decide(np.asarray(primary_outputs))
    if len(candidate) != len(golden) or len(primary) != len(golden):
        raise ValueError(f"need {len(golden)} outputs, got {len(candidate)} and {len(primary)}")
    flipped = np.flatnonzero(candidate != golden.expected)
    metrics = {
        "golden_rows": float(len(golden)),
        "golden_flips": float(len(flipped)),
        "golden_primary_flips": float(np.sum(primary != golden.expected)),
    }
    if len(flipped) <= max_flips:
        return GateDecision(True, [], metrics)
    names = decider.names
    shown = ", ".join(
        f"{golden.ids[i]} ({names[golden.expected[i]]} -> {names[candidate[i]]})"
        for i in flipped[:SHOWN_FLIPS]
    )
    more = f" and {len(flipped) - SHOWN_FLIPS} more" if len(flipped) > SHOWN_FLIPS else ""
    reason = (
        f"the candidate flips {len(flipped)} of the {len(golden)} golden-set decisions "
        f"(at most {max_flips} allowed; the primary flips "
        f"{int(metrics['golden_primary_flips'])}): {shown}{more}"
    )
    return GateDecision(False, [reason], metrics)

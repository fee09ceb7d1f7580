"""The golden set and its regression gate: curated events a sound model must decide as expected.

The holdout gate (inference/gate.py) judges a candidate on average; an average can hide a
candidate that now sends plainly safe customers to review. The golden set is a fixed list of
clear-cut events (``golden_set.jsonl`` beside this module, ~200 rows), each with the decision
the ground truth of the synthetic data (inference/synthetic.py) gives it, a ``segment`` and a
one-line ``why``. A candidate's decisions on it are taken at the scoring workers' thresholds
(``STREAMSCORE_REVIEW_THRESHOLD`` / ``DECLINE_THRESHOLD``, passed in by the caller); every
decision that differs from ``expected`` is a *flip*, and more than
``STREAMSCORE_RETRAIN_GATE_GOLDEN_MAX_FLIPS`` flips reject the candidate, naming the rows.

The file is written by a deterministic script (inference/golden_build.py)::

    python -m inference.golden --write    # (re)write golden_set.jsonl
    python -m inference.golden --check    # exit 1 when the file is not what the script writes

and a unit test checks that the committed file is what it writes.
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from inference.gate import GateDecision
from schemas.features import FEATURE_NAMES

GOLDEN_FILE = Path(__file__).with_name("golden_set.jsonl")
DECISIONS = ("approve", "review", "decline")
SHOWN_FLIPS = 5  # a reason names at most this many flipped rows


class Decisions(Protocol):
    """Scores to decision indices (0 approve, 1 review, 2 decline): the scoring workers'
    ``streams.worker.pipeline.PipelineConfig`` is one."""

    def decision_index(self, scores: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class GoldenSet:
    """The rows of a golden set: ids, model inputs (FEATURE_NAMES order), expected decision
    indices, segments and why each decision is expected."""

    ids: tuple[str, ...]
    x: np.ndarray
    expected: np.ndarray
    segments: tuple[str, ...]
    why: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(cls, rows: list[dict[str, object]]) -> GoldenSet:
        """Rows as ``golden_set.jsonl`` holds them; a row lacking a field or naming an
        unknown decision is a ValueError naming the row."""
        ids, x, expected, segments, why = [], [], [], [], []
        for number, row in enumerate(rows, 1):
            try:
                x.append([float(row[name]) for name in FEATURE_NAMES])  # type: ignore[arg-type]
                decision = str(row["expected"])
                ids.append(str(row["id"]))
                segments.append(str(row.get("segment") or "none"))
                why.append(str(row["why"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"golden row {number}: missing or bad field {exc}") from None
            if decision not in DECISIONS:
                raise ValueError(f"golden row {number}: unknown decision {decision!r}")
            expected.append(DECISIONS.index(decision))
        return cls(
            tuple(ids),
            np.asarray(x, dtype=np.float32).reshape(len(ids), len(FEATURE_NAMES)),
            np.asarray(expected, dtype=np.int64),
            tuple(segments),
            tuple(why),
        )

    @classmethod
    def load(cls, path: Path = GOLDEN_FILE) -> GoldenSet:
        lines = path.read_text().splitlines()
        return cls.from_rows([json.loads(line) for line in lines if line.strip()])


@functools.cache
def default_set() -> GoldenSet:
    """The committed golden set, read once per process."""
    return GoldenSet.load()


def golden_gate(
    candidate_scores: np.ndarray,
    primary_scores: np.ndarray,
    golden: GoldenSet,
    decisions: Decisions,
    max_flips: int,
) -> GateDecision:
    """Count the candidate's flips on ``golden`` (the primary's are reported beside them, for
    comparison only); reject when they exceed ``max_flips``."""
    candidate = np.asarray(decisions.decision_index(np.asarray(candidate_scores).reshape(-1)))
    primary = np.asarray(decisions.decision_index(np.asarray(primary_scores).reshape(-1)))
    if len(candidate) != len(golden) or len(primary) != len(golden):
        raise ValueError(f"need {len(golden)} scores, got {len(candidate)} and {len(primary)}")
    flipped = np.flatnonzero(candidate != golden.expected)
    metrics = {
        "golden_rows": float(len(golden)),
        "golden_flips": float(len(flipped)),
        "golden_primary_flips": float(np.sum(primary != golden.expected)),
    }
    if len(flipped) <= max_flips:
        return GateDecision(True, [], metrics)
    shown = ", ".join(
        f"{golden.ids[i]} ({DECISIONS[golden.expected[i]]} -> {DECISIONS[candidate[i]]})"
        for i in flipped[:SHOWN_FLIPS]
    )
    more = f" and {len(flipped) - SHOWN_FLIPS} more" if len(flipped) > SHOWN_FLIPS else ""
    reason = (
        f"the candidate flips {len(flipped)} of the {len(golden)} golden-set decisions "
        f"(at most {max_flips} allowed; the primary flips "
        f"{int(metrics['golden_primary_flips'])}): {shown}{more}"
    )
    return GateDecision(False, [reason], metrics)


def main(argv: list[str]) -> int:
    """``--write`` the golden set, or ``--check`` that the committed one is what is written."""
    from inference.golden_build import render

    if argv not in (["--write"], ["--check"]):
        print("usage: python -m inference.golden --write | --check", file=sys.stderr)
        return 2
    text = render()
    if argv == ["--write"]:
        GOLDEN_FILE.write_text(text)
        print(f"wrote {len(text.splitlines())} rows to {GOLDEN_FILE}")
        return 0
    current = GOLDEN_FILE.read_text() if GOLDEN_FILE.exists() else ""
    if current != text:
        print(f"{GOLDEN_FILE} is not what the script writes: run --write", file=sys.stderr)
        return 1
    print(f"{GOLDEN_FILE}: up to date ({len(text.splitlines())} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

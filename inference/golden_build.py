"""Curating the golden set (inference/golden.py) from the synthetic ground truth, deterministically.

Which cases are clear-cut depends on what a model trained the project's way can know. The
starter model (20,000 rows, 3 % positives) and the retraining worker's candidates never score
an event above 0.42 however risky it is (measured by ``python -m inference.golden_build
--probe``): the tail of the ground truth is too rare in their training data. A golden row that
expects ``review`` or ``decline`` would be flipped by every model the project trains today, so
the set holds the cases every sound model gets right and a broken one gets wrong:

- 100 **obviously safe** events: drawn from the generator, true fraud probability under 0.5 %
  and none of the risk flags below;
- 100 **safe despite one flag**, 20 per flag (a foreign card, a night-time event, a device
  seen for the first time this week, a few failed logins, a burst of transactions): a safe
  event given that one flag, kept when its true probability stays under 1 %. A candidate that
  over-reacts to one feature sends these to review.

Each row's ``expected`` is the decision of its TRUE probability at the scoring workers'
default thresholds (``PipelineConfig``); the builder refuses to write a row whose expectation
is not the one its group promises.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import numpy as np

from inference.golden import DECISIONS
from inference.synthetic import sample_features, true_probability
from schemas.features import EVENT_FEATURES, FEATURE_NAMES

SEED = 20_260_101
POOL = 50_000
SAFE_ROWS = 100
FLAGGED_ROWS = 20  # per flag
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_INTS = {f.name for f in EVENT_FEATURES if f.avro_type in ("int", "long")}

# One risk flag: whether a row has it, and how to give it to a row.
Flag = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray, np.random.Generator], None]]


def _set(column: str, low: float, high: float) -> Callable[[np.ndarray, np.random.Generator], None]:
    def give(row: np.ndarray, rng: np.random.Generator) -> None:
        row[_COL[column]] = rng.integers(int(low), int(high) + 1)

    return give


FLAGS: dict[str, Flag] = {
    "a foreign card": (lambda x: x[:, _COL["is_foreign"]] > 0, _set("is_foreign", 1, 1)),
    "a night-time event": (
        lambda x: (x[:, _COL["hour_of_day"]] < 6) | (x[:, _COL["hour_of_day"]] >= 23),
        _set("hour_of_day", 0, 5),
    ),
    "a new device": (lambda x: x[:, _COL["device_age_days"]] < 7, _set("device_age_days", 0, 6)),
    "failed logins": (
        lambda x: x[:, _COL["failed_logins_7d"]] >= 1,
        _set("failed_logins_7d", 1, 2),
    ),
    "a burst of transactions": (
        lambda x: x[:, _COL["txn_count_24h"]] >= 3,
        _set("txn_count_24h", 3, 4),
    ),
}


def _rounded(x: np.ndarray) -> np.ndarray:
    """Four decimals, as the file keeps them: the expectation is computed on what is kept."""
    return np.round(x.astype(np.float64), 4).astype(np.float32)


def _flags(x: np.ndarray) -> np.ndarray:
    """Rows with any risk flag, or a risky merchant or chargeback history."""
    flagged = np.zeros(len(x), dtype=bool)
    for has, _ in FLAGS.values():
        flagged |= has(x)
    flagged |= x[:, _COL["merchant_risk"]] > 0.3
    return flagged | (x[:, _COL["chargeback_rate_90d"]] > 0.02)


def curate() -> list[tuple[np.ndarray, str]]:
    """(row, why) of every golden row, in file order; the same on every run."""
    rng = np.random.default_rng(SEED)
    pool = _rounded(sample_features(rng, POOL))
    p = true_probability(pool)
    clean = np.flatnonzero((p < 0.005) & ~_flags(pool))
    picked = [
        (pool[i], f"obviously safe: true risk {p[i]:.2%}, no risk flag") for i in clean[:SAFE_ROWS]
    ]
    bases = iter(clean[SAFE_ROWS:])
    for flag, (has, give) in FLAGS.items():
        kept = 0
        while kept < FLAGGED_ROWS:
            row = pool[next(bases)].copy()
            give(row, rng)
            row = _rounded(row[None, :])[0]
            risk = float(true_probability(row[None, :])[0])
            if has(row[None, :])[0] and risk < 0.01:
                picked.append((row, f"safe despite {flag}: true risk {risk:.2%}"))
                kept += 1
    return picked


def render() -> str:
    """The golden set's file text: one JSON object per line."""
    from streams.simulation.simulator import SEGMENTS
    from streams.worker.pipeline import PipelineConfig

    rows = curate()
    x = np.stack([row for row, _ in rows])
    expected = PipelineConfig().decision_index(true_probability(x))
    lines = []
    for i, ((row, why), decision) in enumerate(zip(rows, expected, strict=True)):
        if DECISIONS[decision] != "approve":
            raise AssertionError(f"row {i}: {why} is not approved at the default thresholds")
        segment = SEGMENTS[i % len(SEGMENTS)]
        record: dict[str, object] = {
            "id": f"g{i + 1:03d}",
            "segment": segment or "none",
            "expected": DECISIONS[decision],
            "why": why,
        }
        for name, value in zip(FEATURE_NAMES, row.tolist(), strict=True):
            if name == "is_foreign":
                record[name] = bool(value)
            elif name in _INTS:
                record[name] = int(value)
            else:
                record[name] = round(float(value), 4)
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def probe(seed: int = 123, n: int = 400_000) -> str:
    """How the starter model scores the generator's riskiest events (the docstring's 0.42)."""
    from inference.retraining import scores_of
    from inference.synthetic import labelled_dataset
    from inference.training import TrainConfig, train_mlp

    x, y = labelled_dataset(0, 20_000)  # ensure_default_model's data and seed
    model = train_mlp(x, y, TrainConfig(seed=0)).model
    rows = sample_features(np.random.default_rng(seed), n)
    scores, p = scores_of(model, rows), true_probability(rows)
    risky = p >= 0.9
    return (
        f"starter model on {n:,} generated events: highest score {scores.max():.3f}; "
        f"{int(risky.sum())} events with true risk >= 0.9 score {scores[risky].mean():.3f} "
        "on average"
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--probe"]:
        print("usage: python -m inference.golden_build --probe", file=sys.stderr)
        raise SystemExit(2)
    print(probe())

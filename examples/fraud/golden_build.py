"""Curating the fraud example's golden set (golden.jsonl beside this file; the gate is
inference/golden.py) from the generator's ground truth, deterministically::

    python examples/fraud/golden_build.py --write   # (re)write golden.jsonl
    python examples/fraud/golden_build.py --check   # exit 1 when the file is not what it writes
    python examples/fraud/golden_build.py --probe   # how the starter model scores risky events

Which cases are clear-cut depends on what a model trained the project's way can know. The
starter model (``streamscore up`` trains it: the simulator's first 20,000 events of seed 0,
about 3 % positives, the trainer and params of streamscore.yaml) never scores an event
above 0.42 however risky it is (``--probe`` measures it): the tail of the ground truth is too
rare in its training data. A golden row that expects ``review`` or ``decline`` would be
flipped by every model the project trains today, so the set holds the cases every sound
model gets right and a broken one gets wrong:

- 100 **obviously safe** events: drawn from the generator, true fraud probability under 0.5 %
  and none of the risk flags below;
- 100 **safe despite one flag**, 20 per flag (a foreign card, a night-time event, a device
  seen for the first time this week, a few failed logins, a burst of transactions): a safe
  event given that one flag, kept when its true probability stays under 1 %. A candidate that
  over-reacts to one feature sends these to review.

Each row's ``expected`` is the decision of its TRUE probability by the project's decider of
the ``scorer`` model (streamscore.yaml: approve below 0.3, review below 0.7, else decline);
the builder refuses to write a row whose expectation is not the one its group promises.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    from schemas.project import load_project
except ImportError:  # run from a checkout where StreamScore is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from schemas.project import load_project

FRAUD = load_project(Path(__file__).resolve().with_name("streamscore.yaml"))
GOLDEN_FILE = FRAUD.resolve(FRAUD.spec.gates.golden or "golden.jsonl")
MODEL = "scorer"

_generator: Any = sys.modules[FRAUD.entry_point("generator:sample_features").__module__]
sample_features: Callable[[np.random.Generator, int], np.ndarray] = _generator.sample_features
true_probability: Callable[[np.ndarray], np.ndarray] = _generator.true_probability
FEATURE_NAMES: tuple[str, ...] = _generator.COLUMNS  # event fields, then account features

SEED = 20_260_101
POOL = 50_000
SAFE_ROWS = 100
FLAGGED_ROWS = 20  # per flag
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_TYPES = {f["name"]: f["type"] for f in FRAUD.event_schema["fields"]}
_INTS = {name for name in FEATURE_NAMES if _TYPES.get(name) in ("int", "long")}
_BOOLEANS = {name for name in FEATURE_NAMES if _TYPES.get(name) == "boolean"}

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
    if FRAUD.layout.columns != FEATURE_NAMES:
        raise AssertionError("the generator's columns are not the project's model inputs")
    decider = FRAUD.decider(MODEL)
    names = decider.names
    segments = FRAUD.spec.simulation.segments if FRAUD.spec.simulation is not None else [None]
    rows = curate()
    x = np.stack([row for row, _ in rows])
    expected = decider.decide_scores(true_probability(x))
    lines = []
    for i, ((row, why), decision) in enumerate(zip(rows, expected, strict=True)):
        if names[decision] != decider.names[0]:
            raise AssertionError(f"row {i}: {why} is not {names[0]} at the project's thresholds")
        segment = segments[i % len(segments)]
        record: dict[str, object] = {
            "id": f"g{i + 1:03d}",
            "segment": segment or "none",
            "expected": names[decision],
            "why": why,
        }
        for name, value in zip(FEATURE_NAMES, row.tolist(), strict=True):
            if name in _BOOLEANS:
                record[name] = bool(value)
            elif name in _INTS:
                record[name] = int(value)
            else:
                record[name] = round(float(value), 4)
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def probe(seed: int = 123, n: int = 400_000) -> str:
    """How the starter model scores the generator's riskiest events (the docstring's 0.42):
    trained as ``streamscore up`` trains it (streams/simulation/starter.py), scored on fresh
    rows of the generator."""
    from inference.retraining import Recipe
    from inference.trainer import LocalModel
    from streams.simulation.starter import simulated_rows

    sim = FRAUD.spec.simulation
    rows_n = sim.starter_rows if sim is not None else 20_000
    x, y = simulated_rows(FRAUD, 0, rows_n)  # the starter's data and seed
    model = FRAUD.model(MODEL)
    recipe = Recipe(FRAUD.trainer(), FRAUD.spec.retraining.params, FRAUD.layout.columns,
                    model.task, tuple(model.classes or ()), seed=0)  # fmt: skip
    local = LocalModel.of(recipe.train(x, y))
    rows = sample_features(np.random.default_rng(seed), n)
    scores = FRAUD.decider(MODEL).scores(local.predict(rows))
    p = true_probability(rows)
    risky = p >= 0.9
    return (
        f"starter model ({len(x):,} simulated events, {int(np.sum(y == 1)):,} positive) on "
        f"{n:,} generated events: highest score {scores.max():.3f}; {int(risky.sum())} events "
        f"with true risk >= 0.9 score {scores[risky].mean():.3f} on average"
    )


USAGE = "usage: python examples/fraud/golden_build.py --write | --check | --probe"


def main(argv: Sequence[str] | None = None) -> int:
    """``--write`` the golden set, ``--check`` that the committed one is what is written,
    or ``--probe`` the starter model."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in (["--write"], ["--check"], ["--probe"]):
        print(USAGE, file=sys.stderr)
        return 2
    if args == ["--probe"]:
        print(probe())
        return 0
    text = render()
    if args == ["--write"]:
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
    raise SystemExit(main())

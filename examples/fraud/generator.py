"""The fraud example's synthetic world: payments, accounts and a known ground truth.

StreamScore's simulator (streams/simulation/) calls this generator (``simulation.generator``
in streamscore.yaml) for the numbers and does the rest: ids, times, the entity pool, pacing,
drift, labels sent late. The label is drawn from a fixed logistic function of the inputs, so
a model trained on this data has something real to learn, and drift (shifting an input's
distribution) moves both the inputs and the scores in a known way.

The generator contract (docs/project.md, "Simulation"):

- ``entities(rng, n)``: the feature view's values of ``n`` entities, by feature name;
- ``events(rng, n)``: the fields of ``n`` events, by field name (no id, entity or time);
- ``outcome(rng, columns)``: each event's label from its fields and its entity's features
  (``columns`` holds both, by name);
- ``drifts`` (optional): per field, how a shift "riskier by the ground truth" moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

EVENT_FIELDS = (
    "amount", "items", "session_seconds", "distance_km", "is_foreign", "hour_of_day",
    "device_age_days", "merchant_risk",
)  # fmt: skip
ACCOUNT_FEATURES = (
    "avg_amount_30d", "txn_count_7d", "txn_count_24h", "chargeback_rate_90d",
    "account_age_days", "distinct_merchants_30d", "failed_logins_7d", "avg_distance_km_30d",
)  # fmt: skip
COLUMNS = EVENT_FIELDS + ACCOUNT_FEATURES

# Each column's sampler: (kind, a, b).
_SAMPLERS: dict[str, tuple[str, float, float]] = {
    "amount": ("lognormal", 3.5, 1.0),
    "items": ("poisson1", 2.0, 0.0),
    "session_seconds": ("exponential", 300.0, 0.0),
    "distance_km": ("exponential", 15.0, 0.0),
    "is_foreign": ("bernoulli", 0.08, 0.0),
    "hour_of_day": ("integers", 0.0, 24.0),
    "device_age_days": ("integers", 0.0, 1000.0),
    "merchant_risk": ("beta", 1.5, 8.0),
    "avg_amount_30d": ("lognormal", 3.6, 0.6),
    "txn_count_7d": ("poisson", 6.0, 0.0),
    "txn_count_24h": ("poisson", 1.2, 0.0),
    "chargeback_rate_90d": ("beta", 0.5, 40.0),
    "account_age_days": ("integers", 1.0, 3650.0),
    "distinct_merchants_30d": ("poisson", 4.0, 0.0),
    "failed_logins_7d": ("poisson", 0.3, 0.0),
    "avg_distance_km_30d": ("exponential", 12.0, 0.0),
}

# Ground truth: log-odds contribution per (transformed) input.
_WEIGHTS: dict[str, float] = {
    "amount_ratio": 1.1,
    "distance_km": 0.03,
    "is_foreign": 1.4,
    "merchant_risk": 3.0,
    "night": 0.8,
    "new_device": 0.9,
    "chargeback_rate_90d": 12.0,
    "failed_logins_7d": 0.6,
    "txn_burst": 0.35,
}
_BIAS = -6.0


def sample_features(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` rows of float32 values of every column (``COLUMNS`` order)."""
    columns = []
    col: np.ndarray
    for name in COLUMNS:
        kind, a, b = _SAMPLERS[name]
        if kind == "lognormal":
            col = rng.lognormal(a, b, n)
        elif kind == "poisson":
            col = rng.poisson(a, n)
        elif kind == "poisson1":
            col = rng.poisson(a, n) + 1
        elif kind == "exponential":
            col = rng.exponential(a, n)
        elif kind == "bernoulli":
            col = rng.random(n) < a
        elif kind == "integers":
            col = rng.integers(int(a), int(b), n)
        elif kind == "beta":
            col = rng.beta(a, b, n)
        else:  # pragma: no cover - the table above is closed
            raise AssertionError(kind)
        columns.append(np.asarray(col, dtype=np.float32))
    return np.stack(columns, axis=1)


def true_probability(x: np.ndarray) -> np.ndarray:
    """The ground-truth fraud probability of each row of ``x`` (``COLUMNS`` order)."""
    col = {name: x[:, i].astype(np.float64) for i, name in enumerate(COLUMNS)}
    terms = {
        "amount_ratio": np.log1p(col["amount"]) - np.log1p(col["avg_amount_30d"]),
        "distance_km": np.minimum(col["distance_km"], 200.0),
        "is_foreign": col["is_foreign"],
        "merchant_risk": col["merchant_risk"],
        "night": ((col["hour_of_day"] < 6) | (col["hour_of_day"] >= 23)).astype(np.float64),
        "new_device": (col["device_age_days"] < 7).astype(np.float64),
        "chargeback_rate_90d": col["chargeback_rate_90d"],
        "failed_logins_7d": col["failed_logins_7d"],
        "txn_burst": np.maximum(col["txn_count_24h"] - 2.0, 0.0),
    }
    logit = _BIAS + sum(_WEIGHTS[k] * v for k, v in terms.items())
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


Shift = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def _flip(to: Callable[[np.random.Generator, int], np.ndarray]) -> Shift:
    """A share ``p / 2`` of the values replaced by risky ones drawn by ``to``."""

    def shift(x: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.where(rng.random(len(x)) < np.minimum(p / 2, 1.0), to(rng, len(x)), x)

    return shift


class FraudGenerator:
    """Payments and accounts; labels from :func:`true_probability`."""

    # How full drift (p = 1) in "risk" units moves a field; each adds roughly +1 to +1.4 to
    # the true logit.
    drifts: ClassVar[dict[str, Shift]] = {
        "amount": lambda x, p, rng: x * (1.0 + 2.0 * p),
        "distance_km": lambda x, p, rng: x + 40.0 * p,
        "merchant_risk": lambda x, p, rng: x + (1.0 - x) * np.minimum(p / 2, 1.0),
        "is_foreign": _flip(lambda rng, n: np.ones(n)),
        "hour_of_day": _flip(lambda rng, n: rng.integers(0, 6, n)),  # night
        "device_age_days": _flip(lambda rng, n: rng.integers(0, 7, n)),  # new device
    }

    def entities(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        rows = sample_features(rng, n)[:, len(EVENT_FIELDS) :].astype(np.float64)
        return {name: rows[:, i] for i, name in enumerate(ACCOUNT_FEATURES)}

    def events(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        # Whole rows are drawn and the account part dropped: the stream of every seed stays
        # what it was before the generator moved here.
        rows = sample_features(rng, n)[:, : len(EVENT_FIELDS)].astype(np.float64)
        return {name: rows[:, i] for i, name in enumerate(EVENT_FIELDS)}

    def outcome(self, rng: np.random.Generator, columns: dict[str, np.ndarray]) -> np.ndarray:
        x = np.column_stack([columns[name] for name in COLUMNS])
        return (rng.random(len(x)) < true_probability(x)).astype(np.int64)

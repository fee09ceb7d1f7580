"""Synthetic feature rows with a known ground truth, for training and for the simulator.

The label is drawn from a fixed logistic function of the features, so a model trained on this
data has something real to learn and drift (shifting a feature's distribution) changes both
the inputs and the score distribution in a known way.
"""

from __future__ import annotations

import numpy as np

from schemas.features import FEATURE_NAMES

# Column order is FEATURE_NAMES; each entry is (sampler kind, a, b).
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

# Ground truth: log-odds contribution per (transformed) feature.
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
    """``n`` rows of float32 features in ``FEATURE_NAMES`` order."""
    columns = []
    col: np.ndarray
    for name in FEATURE_NAMES:
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
    """The ground-truth fraud probability of each row of ``x``."""
    col = {name: x[:, i].astype(np.float64) for i, name in enumerate(FEATURE_NAMES)}
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


def labelled_dataset(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and 0/1 labels drawn from the ground truth; same seed, same data."""
    rng = np.random.default_rng(seed)
    x = sample_features(rng, n)
    y = (rng.random(n) < true_probability(x)).astype(np.float32)
    return x, y

"""A generator made of the project file's distributions (``simulation.fields``, ``features``
and ``outcome``), for projects that bring no generator code.

Each field or feature names one family and its parameters::

    km: {lognormal: [1.2, 0.6]}                # numpy's (mean, sigma) of the log
    items: {poisson: 2, plus: 1}                # an optional shift after drawing
    is_express: {bernoulli: 0.2}
    channel: {choice: {web: 0.5, app: 0.4, phone: 0.1}}
    hour: {integers: [0, 24]}                   # [low, high)

Families: normal [mean, sd], lognormal [mean, sigma], uniform [low, high], exponential
scale, poisson lam, integers [low, high], bernoulli p, beta [a, b], choice {value: weight}
or [values], constant value. ``plus`` and ``clip: [low, high]`` apply after drawing.

The outcome is one family too, a function of the inputs by name (a categorical field's
weight is a mapping of its values)::

    outcome: {linear: {bias: 12, weights: {km: 3.0, channel: {app: -2}}, noise: 2}}
    outcome: {logistic: {bias: -3, weights: {...}}}            # binary: P(1) = sigmoid
    outcome: {softmax: {classes: {a: {bias: 0, weights: {...}}, b: {...}}}}  # multiclass
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

FAMILIES = (
    "normal", "lognormal", "uniform", "exponential", "poisson", "integers", "bernoulli",
    "beta", "choice", "constant",
)  # fmt: skip
OUTCOMES = ("linear", "logistic", "softmax")


class SpecError(ValueError):
    """A distribution or outcome the simulator cannot draw; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"simulation.{key}: {message}")
        self.key = key


def draw(rng: np.random.Generator, spec: Mapping[str, Any], n: int, key: str) -> np.ndarray:
    """``n`` values of one field's distribution (float64, or objects for ``choice``)."""
    family = [k for k in spec if k in FAMILIES]
    extra = set(spec) - set(FAMILIES) - {"plus", "clip"}
    if len(family) != 1 or extra:
        raise SpecError(key, f"one of {', '.join(FAMILIES)} (then plus, clip), got "
                        f"{', '.join(map(str, spec))}")  # fmt: skip
    name, args = family[0], spec[family[0]]
    try:
        values = _family(rng, name, args, n)
    except (TypeError, ValueError) as exc:
        raise SpecError(key, f"{name}: {exc}") from None
    if values.dtype == object:
        return values
    if "plus" in spec:
        values = values + float(spec["plus"])
    if "clip" in spec:
        low, high = spec["clip"]
        values = np.clip(values, -np.inf if low is None else low, np.inf if high is None else high)
    return values


def _family(rng: np.random.Generator, name: str, args: Any, n: int) -> np.ndarray:
    a = list(args) if isinstance(args, list | tuple) else [args]
    if name == "normal":
        return rng.normal(float(a[0]), float(a[1]), n)
    if name == "lognormal":
        return rng.lognormal(float(a[0]), float(a[1]), n)
    if name == "uniform":
        return rng.uniform(float(a[0]), float(a[1]), n)
    if name == "exponential":
        return rng.exponential(float(a[0]), n)
    if name == "poisson":
        return rng.poisson(float(a[0]), n).astype(np.float64)
    if name == "integers":
        return rng.integers(int(a[0]), int(a[1]), n).astype(np.float64)
    if name == "bernoulli":
        return (rng.random(n) < float(a[0])).astype(np.float64)
    if name == "beta":
        return rng.beta(float(a[0]), float(a[1]), n)
    if name == "constant":
        return np.full(n, float(a[0]))
    # choice
    if isinstance(args, Mapping):
        values, weights = list(args), np.array([float(w) for w in args.values()])
    else:
        values, weights = [str(v) for v in a], np.ones(len(a))
    if not values or weights.min() < 0 or weights.sum() <= 0:
        raise ValueError("needs values with non-negative weights")
    picked = rng.choice(len(values), size=n, p=weights / weights.sum())
    return np.array([str(v) for v in values], dtype=object)[picked]


def _linear(columns: Mapping[str, np.ndarray], spec: Mapping[str, Any], n: int,
            key: str) -> np.ndarray:  # fmt: skip
    total = np.full(n, float(spec.get("bias", 0.0)))
    for name, weight in (spec.get("weights") or {}).items():
        if name not in columns:
            raise SpecError(f"{key}.weights.{name}", "no such field or feature")
        values = columns[name]
        if isinstance(weight, Mapping):  # per category
            lookup = {str(k): float(v) for k, v in weight.items()}
            total += np.array([lookup.get(str(v), 0.0) for v in values])
        else:
            total += float(weight) * np.asarray(values, dtype=np.float64)
    return total


class SpecGenerator:
    """The generator contract (examples/fraud/generator.py) over the file's distributions."""

    def __init__(
        self,
        fields: Mapping[str, Any],
        features: Mapping[str, Any],
        outcome: Mapping[str, Any] | None,
        classes: tuple[str, ...] = (),
    ) -> None:
        self.fields, self.features, self.outcome_spec = fields, features, outcome
        self.classes = classes
        self.drifts: dict[str, Any] = {}
        if outcome is not None and (len(outcome) != 1 or next(iter(outcome)) not in OUTCOMES):
            raise SpecError("outcome", f"one of {', '.join(OUTCOMES)}")

    def entities(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        return {k: draw(rng, v, n, f"features.{k}") for k, v in self.features.items()}

    def events(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        return {k: draw(rng, v, n, f"fields.{k}") for k, v in self.fields.items()}

    def outcome(self, rng: np.random.Generator, columns: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(columns.values()))) if columns else 0
        if self.outcome_spec is None:
            raise SpecError("outcome", "no outcome: labels need one")
        ((kind, spec),) = self.outcome_spec.items()
        if kind == "linear":
            noise = float(spec.get("noise", 0.0))
            return _linear(columns, spec, n, "outcome.linear") + rng.normal(0.0, noise, n)
        if kind == "logistic":
            p = 1.0 / (1.0 + np.exp(-_linear(columns, spec, n, "outcome.logistic")))
            return (rng.random(n) < p).astype(np.int64)
        per_class = spec.get("classes") or {}
        names = list(per_class)
        if self.classes and names != list(self.classes):
            raise SpecError("outcome.softmax.classes", f"name the classes {list(self.classes)}")
        logits = np.column_stack(
            [_linear(columns, per_class[c], n, f"outcome.softmax.classes.{c}") for c in names]
        )
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        u = rng.random(n)[:, None]
        return (u > np.cumsum(p, axis=1)).sum(axis=1).astype(np.int64)

"""The model-server requests of one batch: the primary, every shadow and a canary, at once.

Failure policy (docs/architecture.md, "Delivery and faults"): the primary failing raises
(the batch is held); a shadow failing is counted missing and never touches the primary path;
a canary failing leaves its rows to the primary (streams/worker/arms.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import NamedTuple

import numpy as np

from inference.contract import Model
from inference.errors import InferenceError
from streams.routing.state import RoutedModels
from streams.worker.arms import Arms
from streams.worker.messages import BatchResult
from streams.worker.metrics import Metrics

log = logging.getLogger("streams.worker.pipeline")


class Scored(NamedTuple):
    outputs: np.ndarray  # the model's answer: (rows,) or (rows, columns)
    infer_ms: float


def label_of(model: Model) -> str:
    return f"{model.name}:{model.version}"


async def infer(
    models: RoutedModels,
    x: np.ndarray,
    result: BatchResult,
    arms: Arms | None,
    metrics: Metrics,
) -> tuple[Scored, list[tuple[Model, Scored]], Scored | None]:
    """The primary's outputs, each answering shadow's, and the canary's on its rows (None
    when it failed: its rows fall back to the primary)."""
    canary = models.canary if arms is not None else None
    own = []  # the canary's own request, unless it is a shadow too
    if canary is not None and arms is not None and canary not in models.shadows:
        own.append(timed(canary, x[arms.canary], metrics))
    outcomes = await asyncio.gather(
        timed(models.primary, x, metrics),
        *(timed(s, x, metrics) for s in models.shadows),
        *own,
        return_exceptions=True,
    )
    first = outcomes[0]
    if isinstance(first, BaseException):
        if isinstance(first, InferenceError):
            metrics.primary_failures.inc()
        raise first
    shadow_scores = []
    canary_scores: Scored | None = None
    for shadow, outcome in zip(models.shadows, outcomes[1:], strict=False):
        if isinstance(outcome, BaseException):
            # Whatever breaks a shadow, it never touches the primary path: counted missing.
            if not isinstance(outcome, InferenceError):
                log.warning("shadow %s failed: %r", label_of(shadow), outcome)
            label = label_of(shadow)
            result.shadow_missing[label] = result.shadow_missing.get(label, 0) + len(x)
            metrics.shadow_missing.labels(label).inc(len(x))
        else:
            shadow_scores.append((shadow, outcome))
            if shadow is canary and arms is not None:
                canary_scores = Scored(outcome.outputs[arms.canary], outcome.infer_ms)
    if own and canary is not None:
        last = outcomes[-1]
        if isinstance(last, BaseException):
            if not isinstance(last, InferenceError):
                log.warning("canary %s failed: %r", label_of(canary), last)
        else:
            canary_scores = last
    return first, shadow_scores, canary_scores


async def timed(model: Model, x: np.ndarray, metrics: Metrics) -> Scored:
    """The model's outputs and its own request time in ms (shadows run concurrently, so
    each output carries its model's time, not the batch's)."""
    t0 = time.perf_counter()
    label = label_of(model)
    try:
        outputs = await model.predict(x)
        return Scored(outputs, (time.perf_counter() - t0) * 1e3)
    except InferenceError as exc:
        metrics.model_errors.labels(label, type(exc).__name__).inc()
        raise
    finally:
        metrics.infer_seconds.labels(label).observe(time.perf_counter() - t0)
        breaker = getattr(model, "breaker", None)
        if breaker is not None:
            metrics.breaker_state.labels(label).set(int(breaker.state))

"""Whether a running canary must be rolled back: pure logic over two windows and the alerts.

The canary arm and the primary arm decide for disjoint, sticky sets of entities
(streams/routing/split.py) over the same period, so their windows (role canary vs role
primary, streams/guard/quality.py) compare like with like. A canary is rolled back when:

- **error rate** (the principal check), with at least ``min_labels`` labelled events in both
  arms: the canary's error rate exceeds the primary arm's by more than ``error_margin``.
  The error rate is chosen over log loss because it is what the canary's users get (its
  decisions, at the thresholds in force), and a margin on it reads as "N more wrong
  decisions per 100"; log loss is exported for the dashboard and the alerts;
- **latency**, with at least ``min_labels`` labelled canary events: the p99 of
  scored_at - event_time over its window exceeds ``max_latency_ms``;
- **drift**: a drift alert names the canary's model version (``rollback_on_drift``). It needs
  no labels: the drift agent has already judged its own windows.

The first that holds is the reason; the figures of both arms go with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.guard.quality import Quality
from streams.guard.settings import GuardConfig

ERROR_RATE, LATENCY, DRIFT = "error-rate", "latency", "drift"


@dataclass(frozen=True, slots=True)
class Breach:
    kind: str  # ERROR_RATE, LATENCY or DRIFT: the reason label of the rollbacks counter
    reason: str  # one human sentence with the numbers
    metrics: dict[str, float] = field(default_factory=dict)


def figures(canary: Quality, primary: Quality) -> dict[str, float]:
    """Both arms' finite figures, prefixed ``canary_`` and ``primary_``."""
    return {
        **{f"canary_{k}": v for k, v in canary.as_metrics().items()},
        **{f"primary_{k}": v for k, v in primary.as_metrics().items()},
    }


def judge(
    canary: Quality, primary: Quality, config: GuardConfig, drift_alert: str | None = None
) -> Breach | None:
    """The breach to roll back for, or None. ``drift_alert`` describes an alert that named
    the canary's version since it started, if any."""
    metrics = figures(canary, primary)
    if drift_alert is not None and config.rollback_on_drift:
        return Breach(DRIFT, drift_alert, metrics)
    if canary.labelled < config.min_labels:
        return None
    if (
        primary.labelled >= config.min_labels
        and canary.error_rate > primary.error_rate + config.error_margin
    ):
        return Breach(
            ERROR_RATE,
            f"error rate {canary.error_rate:.2f} vs {primary.error_rate:.2f} on primary, "
            f"margin {config.error_margin:g}, {canary.labelled} labels",
            metrics,
        )
    p99_ms = canary.latency_p99_s * 1000
    if p99_ms > config.max_latency_ms:
        return Breach(
            LATENCY,
            f"p99 latency {p99_ms:.0f} ms over the limit of {config.max_latency_ms:g} ms, "
            f"{canary.labelled} labels",
            metrics,
        )
    return None

"""When drift alerts become a retraining request: k alerting windows of the last m, then a
cooldown.

:class:`RetrainingPolicy` (one per model version) sees each evaluated window once, in start
order, with the ids of its retrain-worthy alerts. A window with fewer than ``min_samples``
events is ignored entirely (it is neither alerting nor quiet), and so is a window starting at
or before the latest one observed (a replay or a straggler). When ``k`` of the last ``m``
observed windows alerted and ``cooldown_s`` has passed since the previous trigger, it returns
a :class:`Trigger` citing every alert of those windows, starts the cooldown and forgets those
windows, so that the same evidence never triggers twice.

:func:`request_id` names a request by its model version and last window, so the agent
replaying a window after a crash makes the same id and the trainer can deduplicate.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from infra.config import Section, env_name

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://streamscore/retraining-request")


class PolicyConfig(Section):
    """When drift alerts of a model version request a retraining."""

    env_prefix: ClassVar[str] = "DRIFT_POLICY_"

    k: int = Field(2, ge=1, description="Alerting windows, among the last M, that trigger.")
    m: int = Field(3, ge=1, description="How many of the latest windows are looked at.")
    cooldown_s: float = Field(
        600.0, ge=0, description="Least wall-clock time between two retraining requests."
    )
    min_samples: int = Field(
        1000, ge=0, description="Windows with fewer events are ignored by the policy."
    )
    every: str | None = Field(
        None,
        json_schema_extra=env_name("RETRAIN_EVERY"),
        description="Scheduled retraining: a request per model this long (e.g. 24h, 30m, 90s) "
        "after its last request of any kind; unset = off (drift/schedule.py).",
    )

    @field_validator("every")
    @classmethod
    def _duration(cls, every: str | None) -> str | None:
        if every is not None:
            _seconds(every)
        return every

    @property
    def every_s(self) -> float | None:
        """``every`` in seconds; None when the schedule is off."""
        return None if self.every is None else _seconds(self.every)

    @model_validator(mode="after")
    def _k_within_m(self) -> PolicyConfig:
        if self.k > self.m:
            raise ValueError("k must not exceed m")
        return self


@dataclass(frozen=True, slots=True)
class Trigger:
    """A retraining request's evidence: the alerts of the last ``m`` windows, and the starts
    of the windows that alerted (oldest first)."""

    alert_ids: tuple[str, ...]
    window_starts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Observed:
    start_ms: int
    alert_ids: tuple[str, ...]


class RetrainingPolicy:
    """k-of-m alerting windows with a cooldown, for one model version.

    >>> policy = RetrainingPolicy(PolicyConfig(k=2, m=3, cooldown_s=60, min_samples=10))
    >>> policy.observe(0, 100, ["a"], now_s=0.0) is None
    True
    >>> policy.observe(5000, 100, [], now_s=5.0) is None
    True
    >>> policy.observe(10000, 100, ["b", "c"], now_s=10.0)
    Trigger(alert_ids=('a', 'b', 'c'), window_starts=(0, 10000))
    """

    def __init__(self, config: PolicyConfig):
        self.config = config
        self._windows: deque[_Observed] = deque(maxlen=config.m)
        self._latest_start: int | None = None
        self._last_trigger_s: float | None = None

    def observe(
        self, window_start_ms: int, events: int, alert_ids: list[str], now_s: float
    ) -> Trigger | None:
        """Record one evaluated window; the trigger it completes, if any."""
        if events < self.config.min_samples:
            return None
        if self._latest_start is not None and window_start_ms <= self._latest_start:
            return None
        self._latest_start = window_start_ms
        self._windows.append(_Observed(window_start_ms, tuple(alert_ids)))
        alerting = [w for w in self._windows if w.alert_ids]
        if len(alerting) < self.config.k or self._cooling(now_s):
            return None
        self._last_trigger_s = now_s
        self._windows.clear()
        return Trigger(
            alert_ids=tuple(a for w in alerting for a in w.alert_ids),
            window_starts=tuple(w.start_ms for w in alerting),
        )

    def _cooling(self, now_s: float) -> bool:
        last = self._last_trigger_s
        return last is not None and now_s - last < self.config.cooldown_s


def _seconds(text: str) -> float:
    """Seconds of a duration as ``--since`` takes it (streams/report/reading.py)."""
    from streams.report.errors import ReportError
    from streams.report.reading import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ReportError as exc:
        raise ValueError(str(exc)) from None


def request_id(model_name: str, model_version: str, window_start_ms: int) -> str:
    """The retraining request's id: the same for the same model version and window, always.

    >>> request_id("fraud", "3", 1000) == request_id("fraud", "3", 1000)
    True
    >>> request_id("fraud", "3", 1000) == request_id("fraud", "4", 1000)
    False
    """
    return str(uuid.uuid5(_NAMESPACE, f"{model_name}\x00{model_version}\x00{window_start_ms}"))

"""Scheduled retraining: a request every ``STREAMSCORE_RETRAIN_EVERY`` per model, unless one
was issued more recently.

A model's *clock* is the wall time of its latest retraining request from the agent, drift
or schedule, or, before any, the time the agent first merged a summary of one of its
versions. The schedule fires for a model when ``now - clock >= every``, and firing sets the
clock to now; a drift-triggered request sets it too. So a model gets a scheduled request
``every`` after its last request of any kind, and never two requests within ``every`` from
the schedule; a drift request is never held back by the schedule (drift evidence goes to
the policy and its own cooldown, drift/policy.py).

The clocks live in a mapping ``name → {"clock_s", "partition"}``: a Faust table in the agent
(``schedule``, changelogged like the others), so a restarted agent knows when each model was
last asked for and does not fire again. As with every table, it changes only while the merge
agent handles a message: a timer finds the models that are due and sends a tick (key
``schedule|name``) to the summaries partition of that model's first version; the merge agent
fires when the tick arrives, if the model is still due then. Request ids are a uuid5 of the
model and the due time, so a tick handled twice (a crash before its ack) makes the same id.
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import Any

SCHEDULE_TICK = b"schedule|"
REASON = "schedule"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://streamscore/scheduled-retraining")


class RetrainingSchedule:
    """The clocks of the monitored models; ``every_s`` None: the schedule is off (nothing is
    written, nothing fires).

    >>> schedule = RetrainingSchedule({}, every_s=60.0)
    >>> schedule.watch("fraud", partition=0, now_s=0.0)
    >>> schedule.due(59.0), schedule.due(60.0)
    ([], [('fraud', 0)])
    >>> schedule.requested("fraud", now_s=50.0)  # a drift request resets the clock
    >>> schedule.fire("fraud", now_s=60.0) is None
    True
    >>> schedule.fire("fraud", now_s=110.0)["reason"]
    'schedule'
    """

    def __init__(self, clocks: MutableMapping[str, Any], every_s: float | None) -> None:
        self.clocks = clocks
        self.every_s = every_s

    def watch(self, name: str, partition: int, now_s: float) -> None:
        """The agent merged a summary of ``name``: its clock starts now if it has none."""
        if self.every_s is not None and name not in self.clocks:
            self.clocks[name] = {"clock_s": now_s, "partition": partition}

    def requested(self, name: str, now_s: float) -> None:
        """A (drift) request for ``name`` was issued at ``now_s``: its clock restarts."""
        entry = self.clocks.get(name)
        if self.every_s is not None and entry is not None:
            self.clocks[name] = {**entry, "clock_s": max(float(entry["clock_s"]), now_s)}

    def due(self, now_s: float) -> list[tuple[str, int]]:
        """(model, partition to tick) of every model whose clock is ``every_s`` old."""
        return [
            (name, int(entry["partition"]))
            for name, entry in list(self.clocks.items())
            if self._is_due(entry, now_s)
        ]

    def fire(self, name: str, now_s: float) -> dict[str, Any] | None:
        """The scheduled request of ``name`` if it is due (its clock restarts), else None."""
        entry = self.clocks.get(name)
        if entry is None or not self._is_due(entry, now_s):
            return None
        assert self.every_s is not None  # _is_due is False without a period
        due_ms = int((float(entry["clock_s"]) + self.every_s) * 1000)
        self.clocks[name] = {**entry, "clock_s": now_s}
        return {
            "request_id": str(uuid.uuid5(_NAMESPACE, f"{name}\x00{due_ms}")),
            "model_name": name,
            "reason": REASON,
            "requested_by": "drift-agent",
            "alert_ids": [],
            "requested_at": int(now_s * 1000),
            "from_time": None,
            "to_time": None,
        }

    def _is_due(self, entry: dict[str, Any], now_s: float) -> bool:
        return self.every_s is not None and now_s - float(entry["clock_s"]) >= self.every_s

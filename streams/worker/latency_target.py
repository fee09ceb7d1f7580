"""A latency target the scoring worker holds by itself: batch cap N and linger W from measure.

The engine's take waits up to T for a first message, then lingers up to W for more, then
takes at most N. This controller chooses N (``size``) and W (``wait_s``) before each take so
that the p99 of event-to-output latency stays under ``target_ms`` while the load allows, with
the LARGEST batches that target permits (a batch's fixed cost is shared by more events: less
CPU per event, more left for the broker and the model server). It is pure arithmetic: the
engine measures, calls :meth:`LatencyTarget.observe` once per acknowledged batch, and reads
``size`` and ``wait_s``.

Feed-forward model, refitted online from what each batch measured:

- scoring time of a batch of n events: s(n) = a + b·n, exponentially weighted least squares
  over the last ~100 batches (b kept while the sizes seen are too alike to tell a from b);
- publish-until-acked time p: exponentially weighted mean plus two standard deviations;
- arrival rate λ: events taken per second over the last 32 batches (at most ``window_s``);
  the plan uses the larger of that and the last 8 batches' rate, so a rise is seen at once
  (a fall is safe, and seen a few dozen batches later). u = b·λ is the load: the share of
  the worker's time that scoring needs.

With a cycle C between takes, a batch holds n ≈ λ·C events; its oldest event waited about C
when taken, then is scored and published, so the worst latency is about

    L(C) = C + a + b·λ·C + p.

The controller takes the largest C with L(C) ≤ budget = target · margin:
C = (budget - a - p) / (1 + u). A cycle must hold the scoring of its own batch, C ≥ a / (1 - u)
(W = 0); a longer one comes from lingering, and the cap leaves room for bursts:

    W = min(C·(1 - u) - a, max_wait_s), 0 if that is < 0 or would gather < 0.1 event;
    C = (W + a) / (1 - u), the cycle that W gives;   N = clamp(⌈1.5·λ·C⌉, min_size, max_size).

Feedback: L(C) is about a p99 only when the model is right, and jitter is not in it, so the
``margin`` (start 0.7) is tuned on what is measured. Every ``feedback_s`` the p99 of the event
latencies acknowledged since the last check is estimated (a batch's events spread evenly
between its newest and its oldest event's latency), then

    margin ← clamp(margin · clamp(0.85·target / p99, 0.5, 1.03), 0.3, 1):

it shrinks fast when the p99 is above 85 % of the target (by up to half per check, so
latency the model does not see, such as a slow way into the broker, stops the lingering
within a second or two) and grows slowly below it, so the p99 settles near 85 % of the
target with the longest linger (largest batches) that allows.
It never shrinks while W = 0: a smaller budget would change nothing then.

Throughput mode: when the target cannot be held (u ≥ 0.95; or even W = 0 would give
L(a / (1 - u)) > target; or three capped takes, with no uncapped one between, each took an
oldest event older than the last: a backlog), the target is given up: N = max_size, W = 0,
the most events per second the worker can do. It comes back once, eight batches running,
u < 0.9, the target is feasible, the take was not capped and its oldest event was younger
than the budget. Until ``warmup_batches`` are observed it behaves as a worker without a
target (N = max_size, W = 0).
"""

from __future__ import annotations

import math
from collections import deque

WARMUP, LATENCY, THROUGHPUT = "warmup", "latency", "throughput"


class _LinearFit:
    """Exponentially weighted least squares of y = a + b·x (decay per sample)."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.w = self.x = self.y = self.xx = self.xy = 0.0
        self.a = self.b = 0.0

    def add(self, x: float, y: float) -> None:
        d = self.decay
        self.w = d * self.w + 1.0
        self.x = d * self.x + x
        self.y = d * self.y + y
        self.xx = d * self.xx + x * x
        self.xy = d * self.xy + x * y
        mean_x, mean_y = self.x / self.w, self.y / self.w
        var_x = self.xx / self.w - mean_x * mean_x
        if var_x > 0.25 + (0.02 * mean_x) ** 2:  # sizes spread enough to tell a from b
            self.b = max(0.0, (self.xy / self.w - mean_x * mean_y) / var_x)
        self.a = mean_y - self.b * mean_x
        if self.a < 0.0:  # a line through the origin fits the same points
            self.a, self.b = 0.0, mean_y / max(mean_x, 1.0)


class LatencyTarget:
    """Batch cap and linger that hold p99 latency under ``target_ms`` with the largest
    batches; see the module docstring for the control law."""

    start_margin = 0.7
    min_margin, max_margin = 0.3, 1.0
    headroom = 1.5  # batch cap over the expected batch
    overload_at, recover_below = 0.95, 0.9  # load b·λ: target given up / retried
    min_linger_events = 0.1
    warmup_batches = 16
    rate_batches = 32  # λ over the last 32 batches at most (and at most ``window_s``)
    backlog_batches = 3  # capped takes, each oldest event older than the last: a backlog
    calm_batches = 8  # good batches in a row before leaving throughput mode

    def __init__(
        self,
        target_ms: float,
        max_size: int,
        min_size: int = 8,
        max_wait_s: float = 0.005,
        *,
        window_s: float = 1.0,
        feedback_s: float = 0.5,
    ) -> None:
        if not target_ms > 0:
            raise ValueError(f"target_ms must be > 0 (0 turns the target off), not {target_ms}")
        if not 1 <= min_size <= max_size:
            raise ValueError(f"need 1 <= min_size <= max_size, not {min_size}, {max_size}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, not {max_wait_s}")
        self.target_s = target_ms / 1000.0
        self.max_size, self.min_size, self.max_wait_s = max_size, min_size, max_wait_s
        self.window_s, self.feedback_s = window_s, feedback_s
        self.margin = self.start_margin
        self.mode = WARMUP
        self._size, self._wait_s = max_size, 0.0
        self._scoring = _LinearFit(decay=0.99)
        self._publish_mean = self._publish_var = 0.0
        self._takes: deque[tuple[float, int]] = deque()  # (take time, events taken)
        self._batches = 0
        self._backlog = self._calm = 0
        self._last_capped_age = -1.0
        self._latencies: list[tuple[int, float, float]] = []  # (n, newest, oldest) since check
        self._checked_at: float | None = None
        self.last_p99_s = 0.0

    @property
    def size(self) -> int:
        """The batch cap N for the next take."""
        return self._size

    @property
    def wait_s(self) -> float:
        """The linger W for the next take: after the first message, wait up to this long
        for more (until ``size`` are there)."""
        return self._wait_s

    @property
    def rate(self) -> float:
        """Estimated arrival rate λ, events/s, over the window (0 until two takes)."""
        return self._rate(0)

    def _rate(self, first: int) -> float:
        """Events taken per second from take ``first`` of the window to the last."""
        takes = self._takes
        span = takes[-1][0] - takes[first][0] if len(takes) >= 2 else 0.0
        return sum(n for _, n in list(takes)[first + 1 :]) / span if span > 0 else 0.0

    @property
    def publish_s(self) -> float:
        """Publish time to plan with: mean plus two standard deviations."""
        return self._publish_mean + 2.0 * math.sqrt(self._publish_var)

    def observe(
        self,
        *,
        size: int,
        capped: bool,
        scoring_s: float,
        publish_s: float,
        oldest_age_s: float,
        oldest_latency_s: float,
        newest_latency_s: float,
        now: float,
    ) -> None:
        """One acknowledged batch: ``size`` events taken (``capped``: the take stopped at
        the cap, ``size == self.size`` then), ``scoring_s`` from take to publish,
        ``publish_s`` from publish to acknowledgement, ``oldest_age_s`` the age of its
        oldest event when taken, ``*_latency_s`` its oldest and newest events' latency at
        acknowledgement, ``now`` monotonic seconds at acknowledgement."""
        if size <= 0:
            return
        self._batches += 1
        self._scoring.add(size, scoring_s)
        if self._batches == 1:
            self._publish_mean = publish_s
        deviation = publish_s - self._publish_mean
        self._publish_mean += 0.05 * deviation
        self._publish_var = 0.95 * (self._publish_var + 0.05 * deviation * deviation)
        self._takes.append((now - publish_s - scoring_s, size))
        while len(self._takes) > 2 and (
            len(self._takes) > self.rate_batches or self._takes[0][0] < now - self.window_s
        ):
            self._takes.popleft()
        self._track_backlog(capped, oldest_age_s)
        self._feedback(size, newest_latency_s, oldest_latency_s, now)
        if self._batches >= self.warmup_batches:
            self._plan(capped, oldest_age_s)

    def _track_backlog(self, capped: bool, oldest_age_s: float) -> None:
        """Counts capped takes whose oldest event is older than the last capped take's;
        an uncapped take (the worker caught up) starts again from 0."""
        if capped and oldest_age_s >= self._last_capped_age:
            self._backlog += 1
        elif not capped:
            self._backlog = 0
        self._last_capped_age = oldest_age_s if capped else -1.0

    def _feedback(self, size: int, newest_s: float, oldest_s: float, now: float) -> None:
        """Every ``feedback_s``: the margin from the p99 latency since the last check."""
        self._latencies.append((size, newest_s, oldest_s))
        if self._checked_at is None:
            self._checked_at = now
        if now - self._checked_at < self.feedback_s:
            return
        p99 = self.last_p99_s = _p99(self._latencies)
        self._latencies, self._checked_at = [], now
        if self.mode == WARMUP or p99 <= 0.0:
            return
        step = min(max(0.85 * self.target_s / p99, 0.5), 1.03)
        if self._wait_s == 0.0:  # no linger (throughput mode too): a smaller budget
            step = max(step, 1.0)  # would change nothing, and slow the way back
        self.margin = min(max(self.margin * step, self.min_margin), self.max_margin)

    def _plan(self, capped: bool, oldest_age_s: float) -> None:
        """Size and linger for the next takes, from the model and the mode."""
        a, b, p = self._scoring.a, self._scoring.b, self.publish_s
        load = b * self.rate  # u = b·λ: the share of the worker's time scoring needs
        # Can the target be held at all, with W = 0 and the cycle at its least, a / (1 - u)?
        shortest = a / (1.0 - load) if load < 1.0 else math.inf
        feasible = load < self.overload_at and shortest * (1.0 + load) + a + p <= self.target_s
        budget = self.target_s * self.margin
        if self.mode != THROUGHPUT:
            behind = self._backlog >= self.backlog_batches
            self.mode, self._calm = (LATENCY, 0) if feasible and not behind else (THROUGHPUT, 0)
        else:
            calm = feasible and load < self.recover_below and not capped and oldest_age_s < budget
            self._calm = self._calm + 1 if calm else 0
            if self._calm >= self.calm_batches:
                self.mode, self._backlog = LATENCY, 0
        if self.mode == THROUGHPUT:
            self._size, self._wait_s = self.max_size, 0.0
            return
        # Plan with the higher of the window's rate and the last 8 batches' (a rise at once).
        lam = max(self.rate, self._rate(max(0, len(self._takes) - 9)))
        planned = min(b * lam, self.overload_at)
        cycle = (budget - a - p) / (1.0 + planned)  # the largest with L(C) <= budget
        wait = min(cycle * (1.0 - planned) - a, self.max_wait_s)
        if lam * wait < self.min_linger_events:  # also when the budget is below the least
            wait = 0.0
        self._wait_s = wait
        cycle = (wait + a) / (1.0 - planned)  # the cycle that W gives
        size = math.ceil(self.headroom * lam * cycle)
        self._size = min(max(size, self.min_size), self.max_size)

    def state(self) -> dict[str, float | int | str]:
        """What the controller does and believes, for metrics and logs."""
        return {
            "mode": self.mode,
            "size": self._size,
            "wait_ms": round(self._wait_s * 1000.0, 3),
            "margin": round(self.margin, 3),
            "rate_per_s": round(self.rate, 1),
            "fixed_ms": round(self._scoring.a * 1000.0, 3),
            "per_event_us": round(self._scoring.b * 1e6, 3),
            "publish_ms": round(self.publish_s * 1000.0, 3),
            "p99_ms": round(self.last_p99_s * 1000.0, 3),
        }


def _p99(batches: list[tuple[int, float, float]]) -> float:
    """The p99 of event latencies when each batch's n events are spread evenly between its
    newest and oldest event's latency: bisection on the share of events above x."""
    total = sum(n for n, _, _ in batches)
    low = min(newest for _, newest, _ in batches)
    high = max(oldest for _, _, oldest in batches)
    for _ in range(20):
        x = (low + high) / 2.0
        above = 0.0
        for n, newest, oldest in batches:
            if oldest > x:
                spread = oldest - newest
                above += n if newest >= x or spread <= 0 else n * (oldest - x) / spread
        low, high = (x, high) if above > 0.01 * total else (low, x)
    return high

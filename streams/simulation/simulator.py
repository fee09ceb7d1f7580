"""Reproducible synthetic events and labels, with drift on demand: `streamscore simulate`.

Features come from :mod:`inference.synthetic`, the generator the model is trained on, so a
simulated stream is one the model knows, and its labels follow the same ground truth. A row
splits in two (schemas/features.py): the EVENT_FEATURES part goes into the event; the
ENTITY_FEATURES part is what the feature store holds for the event's entity, given by
:func:`entity_feature_rows` so that the store loader serves the very values labels used.

Everything but event_time depends only on the seed, event ids included, and event ``i`` is
the same whatever the count, rate or drift before it: each concern (entities, events, drift,
labels) draws from its own child of one ``SeedSequence``, in fixed chunks. event_time is
``start + i / rate``, so a paced run stamps events close to the wall clock; pass ``start``
to reproduce it too.

Drift moves one event feature from event K on, at once (abrupt) or linearly over a window
(gradual). In ``risk`` units (the default) it moves in a direction the ground truth scores as
riskier, so that the score distribution moves with it; features the ground truth ignores
cannot drift so. In ``sigma`` units any event feature can: its values move up by
``magnitude`` standard deviations of that feature, the shift drift calibration is made of.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from inference.synthetic import sample_features, true_probability
from schemas.features import ENTITY_FEATURE_NAMES, EVENT_FEATURES

CHUNK = 1024  # fixed: changing it changes every stream
SEGMENTS: tuple[str | None, ...] = ("retail", "gaming", "travel", None)
_N_EVENT = len(EVENT_FEATURES)
Shift = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]
_AVRO_CAST: dict[str, Callable[[Any], Any]] = {"boolean": bool, "int": int, "long": int}


def _flip(to: Callable[[np.random.Generator, int], np.ndarray]) -> Shift:
    """A share ``p / 2`` of the values replaced by risky ones drawn by ``to``."""

    def shift(x: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.where(rng.random(len(x)) < np.minimum(p / 2, 1.0), to(rng, len(x)), x)

    return shift


# How full drift (p = 1) moves each feature; each adds roughly +1 to +1.4 to the true logit.
DRIFTS: dict[str, Shift] = {
    "amount": lambda x, p, rng: x * (1.0 + 2.0 * p),
    "distance_km": lambda x, p, rng: x + 40.0 * p,
    "merchant_risk": lambda x, p, rng: x + (1.0 - x) * np.minimum(p / 2, 1.0),
    "is_foreign": _flip(lambda rng, n: np.ones(n)),
    "hour_of_day": _flip(lambda rng, n: rng.integers(0, 6, n)),  # night
    "device_age_days": _flip(lambda rng, n: rng.integers(0, 7, n)),  # new device
}


@functools.cache
def feature_sigma() -> dict[str, float]:
    """Standard deviation of each event feature, as the generator draws it (fixed sample)."""
    x = sample_features(np.random.default_rng(20240101), 200_000)[:, :_N_EVENT]
    return {f.name: float(x[:, i].std()) for i, f in enumerate(EVENT_FEATURES)}


def _shift(feature: str, unit: str) -> Shift:
    """How full drift moves ``feature``; ``p`` (progress times magnitude) scales it."""
    if unit == "risk":
        return DRIFTS[feature]
    step = feature_sigma()[feature]
    return lambda x, p, rng: x + step * p


@dataclass(frozen=True, slots=True)
class Drift:
    """Feature ``feature`` shifts from event ``at`` on; ``magnitude`` scales the shift (in
    ``sigma`` units: the shift is ``magnitude`` standard deviations of the feature)."""

    feature: str
    at: int
    kind: Literal["abrupt", "gradual"] = "abrupt"
    window: int = 1000
    magnitude: float = 1.0
    unit: Literal["risk", "sigma"] = "risk"

    def __post_init__(self) -> None:
        if self.unit not in ("risk", "sigma") or self.kind not in ("abrupt", "gradual"):
            raise ValueError(f"drift is abrupt|gradual in risk|sigma units: not {self}")
        known = list(DRIFTS) if self.unit == "risk" else [f.name for f in EVENT_FEATURES]
        if self.feature not in known:
            raise ValueError(
                f"cannot drift {self.feature!r} in {self.unit} units: choose one of "
                f"{', '.join(known)}"
            )
        if self.at < 0 or self.window < 1 or self.magnitude <= 0:
            raise ValueError("drift needs at >= 0, window >= 1 and magnitude > 0")

    def progress(self, index: np.ndarray) -> np.ndarray:
        """0 before ``at``, then 1 (abrupt) or a ramp reaching 1 after ``window`` events."""
        if self.kind == "abrupt":
            ramp = (index >= self.at).astype(np.float64)
        else:
            ramp = np.clip((index - self.at + 1) / self.window, 0.0, 1.0)
        return ramp * self.magnitude


def entity_ids(entities: int) -> list[str]:
    return [f"acct-{i:06d}" for i in range(entities)]


def _seeds(seed: int) -> list[np.random.Generator]:
    """Independent generators for entities, events, drift and labels."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]


def _entity_table(seed: int, entities: int) -> tuple[np.ndarray, np.ndarray]:
    rng = _seeds(seed)[0]
    features = sample_features(rng, entities)[:, _N_EVENT:].astype(np.float64)
    return features, rng.integers(0, len(SEGMENTS), entities)


def entity_feature_rows(seed: int, entities: int) -> Iterator[tuple[str, dict[str, float]]]:
    """(entity_id, ENTITY_FEATURES values) for the feature store, as the simulator uses them."""
    features, _ = _entity_table(seed, entities)
    for entity_id, row in zip(entity_ids(entities), features, strict=True):
        yield entity_id, dict(zip(ENTITY_FEATURE_NAMES, map(float, row), strict=True))


@dataclass(frozen=True, slots=True)
class Chunk:
    """``CHUNK`` consecutive events as arrays: ``full`` is each event's features (rounded as
    sent) then its entity's, the row a worker scores; ``who`` indexes the entities."""

    first: int
    full: np.ndarray
    who: np.ndarray
    id_bytes: bytes


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    """One event and its outcome, drawn from the ground-truth probability of its full row."""

    event: dict[str, Any]
    outcome: int

    def label(self, observed_at: datetime) -> dict[str, Any]:
        e = self.event
        return {
            "event_id": e["event_id"],
            "entity_id": e["entity_id"],
            "label": self.outcome,
            "observed_at": observed_at,
        }


class EventSimulator:
    """An endless, reproducible stream of :class:`SimulatedEvent`."""

    def __init__(
        self,
        seed: int = 0,
        entities: int = 1000,
        drift: Drift | None = None,
        start: datetime | None = None,
        rate: float = 1000.0,
    ) -> None:
        if entities < 1 or rate <= 0:
            raise ValueError("a simulation needs entities >= 1 and rate > 0")
        self.seed = seed
        self.entities = entities
        self.drift = drift
        start = start or datetime(2024, 1, 1, tzinfo=UTC)
        self.start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        self.ms_per_event = 1000.0 / rate
        self._ids = entity_ids(entities)
        self._entity_features, self._segments = _entity_table(seed, entities)

    def event_time(self, index: int) -> datetime:
        return self.start + timedelta(milliseconds=int(index * self.ms_per_event))

    def chunks(self) -> Iterator[Chunk]:
        """The stream as arrays, ``CHUNK`` events at a time: what :meth:`events` makes records
        of, for code that wants the numbers without a dict per event (drift calibration)."""
        _, event_rng, drift_rng, _ = _seeds(self.seed)
        first = 0
        while True:
            x = sample_features(event_rng, CHUNK)[:, :_N_EVENT].astype(np.float64)
            who = event_rng.integers(0, self.entities, CHUNK)
            id_bytes = event_rng.bytes(16 * CHUNK)
            if self.drift is not None:
                col = [f.name for f in EVENT_FEATURES].index(self.drift.feature)
                p = self.drift.progress(np.arange(first, first + CHUNK))
                shift = _shift(self.drift.feature, self.drift.unit)
                x[:, col] = shift(x[:, col], p, drift_rng)
            x = np.round(x, 4)  # readable numbers; labels are drawn from what is sent
            full = np.concatenate([x, self._entity_features[who]], axis=1)
            yield Chunk(first, full, who, id_bytes)
            first += CHUNK

    def events(self) -> Iterator[SimulatedEvent]:
        label_rng = _seeds(self.seed)[3]
        for chunk in self.chunks():
            outcomes = label_rng.random(CHUNK) < true_probability(chunk.full)
            yield from self._records(chunk, outcomes)

    def _records(self, chunk: Chunk, outcomes: np.ndarray) -> list[SimulatedEvent]:
        out = []
        for k in range(CHUNK):
            id_bytes = chunk.id_bytes[16 * k : 16 * k + 16]
            event: dict[str, Any] = {
                "event_id": str(uuid.UUID(bytes=id_bytes, version=4)),
                "entity_id": self._ids[chunk.who[k]],
                "event_time": self.event_time(chunk.first + k),
            }
            for f, value in zip(EVENT_FEATURES, chunk.full[k, :_N_EVENT], strict=True):
                event[f.name] = _AVRO_CAST.get(f.avro_type, float)(value)
            event["segment"] = SEGMENTS[self._segments[chunk.who[k]]]
            out.append(SimulatedEvent(event, int(outcomes[k])))
        return out


class Pacer:
    """Holds a loop to ``rate`` items per second: item ``i`` waits until ``i / rate``."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self._clock, self._sleep = rate, clock, sleep
        self._t0 = clock()

    def elapsed(self) -> float:
        return self._clock() - self._t0

    def wait(self, index: int) -> None:
        ahead = index / self.rate - self.elapsed()
        if ahead > 0.001:  # shorter sleeps cost more than they hold back
            self._sleep(ahead)


@dataclass(frozen=True, slots=True)
class SimulationReport:
    events: int
    labels: int
    seconds: float


def run(
    sim: EventSimulator,
    send_event: Callable[[dict[str, Any]], None],
    send_label: Callable[[dict[str, Any]], None] | None,
    *,
    count: int | None = None,
    duration_s: float | None = None,
    label_delay: int = 0,
    pacer: Pacer | None = None,
) -> SimulationReport:
    """Send events at the simulator's rate until ``count`` or ``duration_s``, whichever first.

    The label of event ``i`` is sent right after event ``i + label_delay``, stamped with that
    event's time: outcomes arrive late, as they do in life. Labels still owed when the run
    stops are sent at the end, so every event sent has its label.
    """
    if count is None and duration_s is None:
        raise ValueError("a simulation needs a count or a duration")
    pacer = pacer or Pacer(1000.0 / sim.ms_per_event)
    owed: deque[SimulatedEvent] = deque()
    sent = labels = 0
    now = sim.start
    for index, item in enumerate(sim.events()):
        if count is not None and index >= count:
            break
        # Due after the end, or (a client that cannot keep up) the time is simply over.
        if duration_s is not None and index / pacer.rate >= duration_s:
            break
        pacer.wait(index)
        if duration_s is not None and pacer.elapsed() >= duration_s:
            break
        send_event(item.event)
        sent += 1
        now = item.event["event_time"]
        if send_label is not None:
            owed.append(item)
            while len(owed) > label_delay:
                send_label(owed.popleft().label(now))
                labels += 1
    while owed and send_label is not None:
        send_label(owed.popleft().label(now))
        labels += 1
    return SimulationReport(sent, labels, pacer.elapsed())

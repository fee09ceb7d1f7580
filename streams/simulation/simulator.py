"""Reproducible synthetic events and labels of any project, with drift on demand:
`streamscore simulate`, the demo, starter models.

The numbers come from the project's generator: its own code (``simulation.generator``, as
the fraud example's generator.py) or the file's distributions (streams/simulation/spec.py).
This module does the rest, the same for every project: entity ids and their features (what
the feature store holds, given by :func:`entity_feature_rows`, so that the store serves the
very values labels used), event ids and times, the entity each event belongs to, its segment,
the drift, and the label of each event from its fields and its entity's features.

Everything but event_time depends only on the seed, event ids included, and event ``i`` is
the same whatever the count, rate or drift before it: each concern (entities, events, drift,
labels) draws from its own child of one ``SeedSequence``, in fixed chunks. event_time is
``start + i / rate``, so a paced run stamps events close to the wall clock; pass ``start``
to reproduce it too.

Drift moves one event field from event K on, at once (abrupt) or linearly over a window
(gradual). In ``sigma`` units any numeric field can: its values move up by ``magnitude``
standard deviations of that field (as the generator draws it): the shift drift calibration
is made of. In ``risk`` units a field moves in a direction the ground truth scores as
riskier, as the generator's ``drifts`` says; only the fields it names can.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import numpy as np

from schemas.project import FieldColumns, Project
from schemas.project.avro import base_kind, fields_of, kind_of
from streams.simulation.spec import SpecGenerator

CHUNK = 1024  # fixed: changing it changes every stream
Shift = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


class Generator(Protocol):
    """A project's synthetic world (docs/project.md, "Simulation")."""

    def entities(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]: ...

    def events(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]: ...

    def outcome(self, rng: np.random.Generator, columns: dict[str, np.ndarray]) -> np.ndarray: ...


def generator_of(project: Project) -> Generator:
    """The project's generator: its entry point, else its distributions."""
    sim = project.spec.simulation
    if sim is None:
        raise ValueError(f"project {project.name} has no simulation section: nothing to simulate")
    if sim.generator is not None:
        made = project.entry_point(sim.generator)
        return made() if isinstance(made, type) else made
    classes = tuple(project.default_model.classes or ())
    return SpecGenerator(sim.fields, sim.features, sim.outcome, classes)


@dataclass(frozen=True, slots=True)
class Drift:
    """Field ``feature`` shifts from event ``at`` on; ``magnitude`` scales the shift (in
    ``sigma`` units: the shift is ``magnitude`` standard deviations of the field)."""

    feature: str
    at: int
    kind: Literal["abrupt", "gradual"] = "abrupt"
    window: int = 1000
    magnitude: float = 1.0
    unit: Literal["risk", "sigma"] = "risk"

    def __post_init__(self) -> None:
        if self.unit not in ("risk", "sigma") or self.kind not in ("abrupt", "gradual"):
            raise ValueError(f"drift is abrupt|gradual in risk|sigma units: not {self}")
        if self.at < 0 or self.window < 1 or self.magnitude <= 0:
            raise ValueError("drift needs at >= 0, window >= 1 and magnitude > 0")

    def progress(self, index: np.ndarray) -> np.ndarray:
        """0 before ``at``, then 1 (abrupt) or a ramp reaching 1 after ``window`` events."""
        if self.kind == "abrupt":
            ramp = (index >= self.at).astype(np.float64)
        else:
            ramp = np.clip((index - self.at + 1) / self.window, 0.0, 1.0)
        return ramp * self.magnitude


def drift_choices(project: Project, generator: Generator, unit: str) -> list[str]:
    """The event fields that can drift in ``unit``."""
    if unit == "risk":
        return list(getattr(generator, "drifts", {}) or {})
    return [name for name, values in _sample(project, generator).items()
            if values.dtype != object]  # fmt: skip


def check_drift(project: Project, generator: Generator, drift: Drift) -> None:
    known = drift_choices(project, generator, drift.unit)
    if drift.feature not in known:
        raise ValueError(
            f"cannot drift {drift.feature!r} in {drift.unit} units: choose one of "
            f"{', '.join(known) or 'nothing (the generator names no risky shift)'}"
        )


_SAMPLES: dict[tuple[Any, str], dict[str, np.ndarray]] = {}


def _sample(project: Project, generator: Generator) -> dict[str, np.ndarray]:
    """200,000 events as the generator draws them (a fixed seed), once per project file:
    each field's spread."""
    key = (project.path, project.sha256)
    if key not in _SAMPLES:
        drawn = generator.events(np.random.default_rng(20240101), 200_000)
        _SAMPLES[key] = {k: np.asarray(v) for k, v in drawn.items()}
    return _SAMPLES[key]


def field_sigma(project: Project, generator: Generator) -> dict[str, float]:
    """Standard deviation of each numeric event field, as the generator draws it."""
    return {
        name: float(np.asarray(values, dtype=np.float64).std())
        for name, values in _sample(project, generator).items()
        if values.dtype != object
    }


def _shift(project: Project, generator: Generator, drift: Drift) -> Shift:
    """How full drift moves the field; ``p`` (progress times magnitude) scales it."""
    if drift.unit == "risk":
        return generator.drifts[drift.feature]  # type: ignore[attr-defined]
    step = field_sigma(project, generator)[drift.feature]
    return lambda x, p, rng: x + step * p


def entity_ids(project: Project, entities: int) -> list[str]:
    prefix = project.spec.simulation.entities.prefix if project.spec.simulation else "entity-"
    return [f"{prefix}{i:06d}" for i in range(entities)]


def _seeds(seed: int) -> list[np.random.Generator]:
    """Independent generators for entities, events, drift and labels."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]


def _entity_table(
    project: Project, generator: Generator, seed: int, entities: int
) -> tuple[np.ndarray, np.ndarray]:
    """The entities' feature vectors (view order; a feature the generator leaves out takes
    its default) and each entity's segment index."""
    rng = _seeds(seed)[0]
    drawn = generator.entities(rng, entities)
    table = np.tile(project.feature_defaults.astype(np.float64), (entities, 1))
    for j, name in enumerate(project.feature_names):
        if name in drawn:
            table[:, j] = np.asarray(drawn[name], dtype=np.float64)
    segments = _segments(project)
    return table, rng.integers(0, len(segments), entities) if segments else np.zeros(entities, int)


def _segments(project: Project) -> list[str | None]:
    sim = project.spec.simulation
    return list(sim.segments) if sim is not None else []


def entity_feature_rows(
    project: Project, seed: int, entities: int
) -> Iterator[tuple[str, dict[str, float]]]:
    """(entity_id, features by name) for the feature store, as the simulator uses them."""
    table, _ = _entity_table(project, generator_of(project), seed, entities)
    names = project.feature_names
    for entity_id, row in zip(entity_ids(project, entities), table, strict=True):
        yield entity_id, dict(zip(names, map(float, row), strict=True))


@dataclass(frozen=True, slots=True)
class Chunk:
    """``CHUNK`` consecutive events as arrays: ``fields`` are the generated event fields
    (rounded as sent), ``features`` each event's entity's vector (view order), ``who``
    indexes the entities."""

    first: int
    fields: dict[str, np.ndarray]
    features: np.ndarray
    who: np.ndarray
    id_bytes: bytes

    def columns(self, project: Project) -> dict[str, np.ndarray]:
        """Fields and features by name: what the generator's outcome reads."""
        out = dict(self.fields)
        for j, name in enumerate(project.feature_names):
            out[name] = self.features[:, j]
        return out

    def matrix(self, project: Project, features: np.ndarray | None = None) -> np.ndarray:
        """The rows a worker scores for these events (the project's input layout): fields as
        the events carry them (an int truncated, a boolean 0/1), then the entity's features
        (or ``features``, e.g. defaults for an outage)."""
        layout = project.layout
        kinds = _kinds(project)
        numbers = {}
        for name in layout.number_fields:
            values = np.asarray(self.fields[name], dtype=np.float64)
            kind = kinds.get(name)
            if kind in ("int", "long"):
                values = np.trunc(values)
            elif kind == "boolean":
                values = (values != 0).astype(np.float64)
            numbers[name] = values
        text: dict[str, list[str | None]] = {
            k: [str(v) for v in self.fields[k]] for k in layout.text_fields
        }
        vectors = self.features if features is None else features
        return layout.matrix(FieldColumns(numbers, {}, text), vectors.astype(np.float32))


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    """One event and its outcome (already in the label field's type)."""

    event: dict[str, Any]
    outcome: Any

    def label(self, observed_at: datetime, project: Project) -> dict[str, Any]:
        e = self.event
        spec = project.spec
        return {
            "event_id": e[spec.events.id],
            "entity_id": e[spec.events.entity],
            spec.labels.field: self.outcome,
            "observed_at": observed_at,
        }


class EventSimulator:
    """An endless, reproducible stream of :class:`SimulatedEvent` of ``project``."""

    def __init__(
        self,
        project: Project,
        seed: int = 0,
        entities: int | None = None,
        drift: Drift | None = None,
        start: datetime | None = None,
        rate: float = 1000.0,
    ) -> None:
        sim = project.spec.simulation
        entities = entities or (sim.entities.count if sim is not None else 1000)
        if entities < 1 or rate <= 0:
            raise ValueError("a simulation needs entities >= 1 and rate > 0")
        self.project = project
        self.generator = generator_of(project)
        if drift is not None:
            check_drift(project, self.generator, drift)
        self.seed = seed
        self.entities = entities
        self.drift = drift
        start = start or datetime(2024, 1, 1, tzinfo=UTC)
        self.start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        self.ms_per_event = 1000.0 / rate
        self._ids = entity_ids(project, entities)
        self._entity_features, self._segment_of = _entity_table(
            project, self.generator, seed, entities
        )
        self._segments = _segments(project)
        self._writers = _field_writers(project)

    def event_time(self, index: int) -> datetime:
        return self.start + timedelta(milliseconds=int(index * self.ms_per_event))

    def chunks(self) -> Iterator[Chunk]:
        """The stream as arrays, ``CHUNK`` events at a time: what :meth:`events` makes records
        of, for code that wants the numbers without a dict per event (drift calibration)."""
        _, event_rng, drift_rng, _ = _seeds(self.seed)
        shift = None if self.drift is None else _shift(self.project, self.generator, self.drift)
        first = 0
        while True:
            fields = {k: np.asarray(v) for k, v in self.generator.events(event_rng, CHUNK).items()}
            who = event_rng.integers(0, self.entities, CHUNK)
            id_bytes = event_rng.bytes(16 * CHUNK)
            if self.drift is not None and shift is not None:
                p = self.drift.progress(np.arange(first, first + CHUNK))
                name = self.drift.feature
                fields[name] = shift(np.asarray(fields[name], dtype=np.float64), p, drift_rng)
            for name, values in fields.items():
                if values.dtype != object:  # readable numbers; labels follow what is sent
                    fields[name] = np.round(np.asarray(values, dtype=np.float64), 4)
            yield Chunk(first, fields, self._entity_features[who], who, id_bytes)
            first += CHUNK

    def events(self) -> Iterator[SimulatedEvent]:
        label_rng = _seeds(self.seed)[3]
        as_label = _label_writer(self.project)
        for chunk in self.chunks():
            outcomes = self.generator.outcome(label_rng, chunk.columns(self.project))
            yield from self._records(chunk, [as_label(o) for o in outcomes.tolist()])

    def _records(self, chunk: Chunk, outcomes: list[Any]) -> list[SimulatedEvent]:
        spec = self.project.spec.events
        segment = spec.segment
        values = {name: (write, chunk.fields[name].tolist())
                  for name, write in self._writers.items() if name in chunk.fields}  # fmt: skip
        out = []
        for k in range(CHUNK):
            id_bytes = chunk.id_bytes[16 * k : 16 * k + 16]
            event: dict[str, Any] = dict(self._writers.defaults)
            event[spec.id] = str(uuid.UUID(bytes=id_bytes, version=4))
            event[spec.entity] = self._ids[chunk.who[k]]
            event[spec.time] = self.event_time(chunk.first + k)
            for name, (write, column) in values.items():
                event[name] = write(column[k])
            if segment is not None and self._segments:
                event[segment] = self._segments[self._segment_of[chunk.who[k]]]
            out.append(SimulatedEvent(event, outcomes[k]))
        return out

    def training_rows(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` events as (x, y): the rows a worker scores and each one's label as
        a number (0/1, class index, value): what a starter model trains on."""
        label_rng = _seeds(self.seed)[3]
        xs, ys = [], []
        for chunk in self.chunks():
            outcomes = self.generator.outcome(label_rng, chunk.columns(self.project))
            xs.append(chunk.matrix(self.project))
            ys.append(np.asarray(outcomes, dtype=np.float64))
            if sum(map(len, xs)) >= n:
                break
        return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _kinds(project: Project) -> dict[str, str]:
    return {
        name: base_kind(kind_of(f["type"])) for name, f in fields_of(project.event_schema).items()
    }


class _Writers(dict[str, Callable[[Any], Any]]):
    defaults: dict[str, Any]


def _field_writers(project: Project) -> _Writers:
    """Per event field the generator may give, the Python value Avro writes; ``defaults`` for
    the fields it never gives (null for an optional one, else the schema's default)."""
    writers = _Writers()
    writers.defaults = {}
    spec = project.spec.events
    own = {spec.id, spec.entity, spec.time, spec.segment}
    for name, field in fields_of(project.event_schema).items():
        kind = base_kind(kind_of(field["type"]))
        writers[name] = {"boolean": bool, "int": int, "long": int, "string": str,
                         "enum": str}.get(kind, float)  # fmt: skip
        if name in own:
            continue
        if kind_of(field["type"]).startswith("nullable-"):
            writers.defaults[name] = None
        elif "default" in field:
            writers.defaults[name] = field["default"]
    return writers


def _label_writer(project: Project) -> Callable[[Any], Any]:
    """A generator's outcome as the label field's type (a class index becomes the class's
    name for string labels)."""
    labels, classes = project.spec.labels, list(project.default_model.classes or ())
    if labels.type == "string":
        return lambda v: classes[int(v)] if classes else str(v)
    if labels.type == "boolean":
        return lambda v: bool(v)
    if labels.type in ("int", "long"):
        return lambda v: int(v)
    return lambda v: float(v)


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
    time_field = sim.project.spec.events.time
    now = sim.start
    project = sim.project
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
        now = item.event[time_field]
        if send_label is not None:
            owed.append(item)
            while len(owed) > label_delay:
                send_label(owed.popleft().label(now, project))
                labels += 1
    while owed and send_label is not None:
        send_label(owed.popleft().label(now, project))
        labels += 1
    return SimulationReport(sent, labels, pacer.elapsed())

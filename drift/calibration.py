"""Drift calibration: how often each detector alarms on stationary traffic, and how soon it
sees a real shift (`streamscore drift calibrate`; the table is in docs/drift.md).

Everything runs in-process on the real code path, without Kafka:

1. events drawn exactly as `streamscore simulate` draws them (:func:`simulated_rows`: the
   simulator's generators and chunks, without building a dict per event);
2. model input rows as the scoring worker builds them (the project's input layout): the
   event's fields as Avro carries them (booleans and ints truncated), then the entity's
   features (the feature view's defaults where an outage is simulated), scored by the
   model's file as Triton serves it, decided by the model's decider;
3. the worker's :class:`~drift.summary.WindowAccumulator`, fed batches of :data:`BATCH` and
   drained after each into a :class:`~drift.state.DriftState` over plain dicts, which closes
   windows by watermark and runs the monitor and the retraining policy, as the drift agent
   does. The policy's clock (its cooldown) is event time: a stream replayed in real time.

Streams (:class:`Scenario`): a stationary one, then after ``warmup`` windows, in the middle
of a window, an abrupt or a gradual (over two windows) shift of one event field by 0.5, 1
and 2 standard deviations, and an outage in which a share of events is scored with default
entity features. The project is the fraud example unless told otherwise; the field is its
demo's drift field (``simulation.drift``). Each is run once, with the configured detectors
and policy; the closed windows are kept, and drift/calibration_table.py replays them through
monitors with one threshold changed at a time.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from drift.detectors import DetectorConfig
from drift.monitor import FEATURES_MISSING
from drift.policy import PolicyConfig
from drift.reference import Reference
from drift.state import Applied, Closed, DriftState
from drift.summary import RepositoryReferences, WindowAccumulator
from drift.windows import WindowConfig
from inference.repository import ModelRepository
from inference.trainer import LocalModel
from schemas.project import Project, load_project
from streams.simulation.simulator import CHUNK, Drift, EventSimulator, check_drift, generator_of
from streams.simulation.starter import prepare

RATE = 1000.0  # events per second of event time: the demo's and the simulator's default
ENTITIES = 1000  # `streamscore simulate`'s default pool
START = datetime(2024, 1, 1, tzinfo=UTC)  # the simulator's default start
BATCH = 512  # events per scored batch (the worker's micro-batch)
BLOCK = 64 * CHUNK  # events generated and scored at once (then cut into batches)
SIGMAS = (0.5, 1.0, 2.0)
SIGMA = "\N{GREEK SMALL LETTER SIGMA}"
OUTAGE_SHARE = 0.25


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, in integers (a float timestamp can be 1 ms short)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def simulated_rows(
    project: Project, seed: int, entities: int, drift: Drift | None, count: int,
    rate: float = RATE, start: datetime = START, block: int = BLOCK,
    outage: tuple[int, float, np.random.Generator] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
    """(event times in epoch ms, float32 model input rows, features missing) of the first
    ``count`` events of ``EventSimulator(project, seed, entities, drift, start, rate)``,
    ``block`` events at a time: the same draws in the same order, as the worker builds its
    rows. ``outage`` (onset, share, rng): from event onset on, that share of events is
    scored with the feature view's defaults."""
    sim = EventSimulator(project, seed, entities, drift, start, rate)
    t0 = epoch_ms(sim.start)
    times, rows, flags = [], [], []
    for chunk in sim.chunks():
        first = chunk.first
        if first >= count:
            break
        index = np.arange(first, first + CHUNK)
        features = chunk.features.copy()
        missing = np.zeros(CHUNK, dtype=bool)
        if outage is not None:
            onset, share, rng = outage
            missing = (index >= onset) & (rng.random(CHUNK) < share)
            features[missing] = project.feature_defaults
        x = chunk.matrix(project, features)
        keep = min(CHUNK, count - first)
        rows.append(x[:keep])
        flags.append(missing[:keep])
        times.append(t0 + (index[:keep] * sim.ms_per_event).astype(np.int64))
        if sum(map(len, times)) >= block or first + CHUNK >= count:
            yield np.concatenate(times), np.concatenate(rows), np.concatenate(flags)
            times, rows, flags = [], [], []


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated stream. From event ``onset`` on, ``drift`` moves a feature, or a share
    ``missing_share`` of events is scored without entity features; a detection must name
    ``target``."""

    name: str
    events: int
    drift: Drift | None = None
    onset: int | None = None
    missing_share: float = 0.0
    target: str | None = None


def scenarios(
    feature: str, stationary_events: int, warmup: int, horizon: int, window_events: int
) -> list[Scenario]:
    """The stationary stream, the six shifts of ``feature`` and the outage; each changing
    stream runs ``warmup`` windows, the onset's window and ``horizon`` windows more."""
    onset = warmup * window_events + window_events // 2
    length = (warmup + 1 + horizon) * window_events
    out = [Scenario("stationary", stationary_events)]
    kinds: tuple[Literal["abrupt", "gradual"], ...] = ("abrupt", "gradual")
    for kind in kinds:
        for sigma in SIGMAS:
            drift = Drift(feature, onset, kind, 2 * window_events, sigma, "sigma")
            out.append(Scenario(f"{kind} {sigma:g}{SIGMA}", length, drift, onset, target=feature))
    outage = f"outage {OUTAGE_SHARE:.0%}"
    out.append(Scenario(outage, length, None, onset, OUTAGE_SHARE, FEATURES_MISSING))
    return out


@dataclass(frozen=True, slots=True)
class StreamResult:
    scenario: Scenario
    seed: int
    closed: list[Closed]
    seconds: float


@dataclass(frozen=True, slots=True)
class Calibration:
    project: Project
    feature: str
    seeds: tuple[int, ...]
    entities: int
    model: tuple[str, str]
    reference: Reference
    window: WindowConfig
    detectors: DetectorConfig
    policy: PolicyConfig
    warmup: int
    horizon: int
    streams: list[StreamResult]
    seconds: float

    @property
    def window_events(self) -> int:
        return int(RATE * self.window.size_s)

    def onset_ms(self, scenario: Scenario) -> int | None:
        if scenario.onset is None:
            return None
        return epoch_ms(START) + int(scenario.onset * 1000.0 / RATE)


def run_stream(
    project: Project, scenario: Scenario, model: LocalModel, repository: Path,
    version: tuple[str, str], seed: int, entities: int, window: WindowConfig,
    detectors: DetectorConfig, policy: PolicyConfig,
) -> StreamResult:  # fmt: skip
    """``scenario`` through the worker's accumulator and the agent's state; its closed windows."""
    began = time.perf_counter()
    name, ver = version
    references = RepositoryReferences(repository, project.layout.columns)
    accumulator = WindowAccumulator(references, window, producer="calibration",
                                    feature_columns=project.layout.feature_columns)  # fmt: skip
    state = DriftState({}, {}, {}, references, window, detectors, policy)
    decider = project.decider(name)
    outage = None
    if scenario.missing_share and scenario.onset is not None:
        outage = (scenario.onset, scenario.missing_share, np.random.default_rng([seed, 7]))
    closed: list[Closed] = []
    now_s = 0.0
    rows = simulated_rows(project, seed, entities, scenario.drift, scenario.events, outage=outage)
    for times, x, missing in rows:
        outputs = model.predict(x)
        scores, decisions = decider.scores(outputs), decider.decide(outputs)
        for b in range(0, len(x), BATCH):
            part = slice(b, b + BATCH)
            counted = accumulator.add(
                name,
                ver,
                times[part],
                x[part],
                scores[part],
                missing[part],
                decisions[part],
                n_decisions=len(decider.names),
            )
            if not counted:
                raise ValueError(f"{name}:{ver} has no reference distributions")
            now_s = float(times[part][-1]) / 1000.0
            for summary in accumulator.drain():
                outcome = state.apply(summary, 0, now_s)
                if outcome is not Applied.APPLIED:
                    raise RuntimeError(f"a calibration summary was {outcome}")
            closed.extend(state.close_due(f"{name}:{ver}", now_s))
    closed.extend(state.close_due(f"{name}:{ver}", now_s, everything=True))
    return StreamResult(scenario, seed, closed, time.perf_counter() - began)


def calibrate(
    *,
    project: Project | None = None,
    events: int | None = None,
    feature: str | None = None,
    seed: int = 0,
    entities: int = ENTITIES,
    quick: bool = False,
    repeats: int | None = None,
    repository: Path | None = None,
    window: WindowConfig | None = None,
    detectors: DetectorConfig | None = None,
    policy: PolicyConfig | None = None,
) -> Calibration:
    """Run every scenario with seeds ``seed .. seed + repeats - 1`` (5 seeds by default, 1
    when ``quick``): each seed has its own entity pool and events. ``events`` (rounded up to
    whole windows) is the length of each stationary stream: 1,000,000 by default, 100,000
    when ``quick``, which also shortens the warm-up and the horizon. Without ``repository``
    the project's first model is made (streams/simulation/starter.py) into a temporary
    folder; with one, its newest version there is used (made first if there is none)."""
    began = time.perf_counter()
    project = project or load_project()
    if feature is None:
        sim = project.spec.simulation
        if sim is None or sim.drift is None:
            raise ValueError(f"project {project.name} names no drift field: pass one")
        feature = sim.drift.field
    window, detectors = window or WindowConfig(), detectors or DetectorConfig()
    policy = policy or PolicyConfig()
    if window.hop_s is not None:
        raise ValueError("calibration runs tumbling windows: unset STREAMSCORE_DRIFT_WINDOW_HOP_S")
    per_window = int(RATE * window.size_s)
    events = events or (100_000 if quick else 1_000_000)
    stationary = -(-events // per_window) * per_window
    # ADWIN reads one value per window and needs tens of them: a long horizon shows it.
    warmup, horizon = (4, 3) if quick else (20, 60)
    seeds = tuple(range(seed, seed + (repeats or (1 if quick else 5))))
    if not seeds or events < 1:
        raise ValueError("calibration needs events >= 1 and repeats >= 1")
    streams = scenarios(feature, stationary, warmup, horizon, per_window)
    generator = generator_of(project)
    for stream in streams:  # a field the simulator cannot shift: refused before any training
        if stream.drift is not None:
            check_drift(project, generator, stream.drift)
    with tempfile.TemporaryDirectory(prefix="streamscore-calibration-") as tmp:
        root = repository or Path(tmp)
        repo = ModelRepository(root)
        name = project.default_model.name
        prepare(project, repo)
        version = (name, str(repo.versions(name)[-1]))
        reference = repo.reference(*version)
        if reference is None:
            raise ValueError(f"{version[0]}:{version[1]} in {root} has no reference.json")
        model = repo.load(*version)
        results = [
            run_stream(project, s, model, root, version, k, entities, window, detectors, policy)
            for s in streams
            for k in seeds
        ]
    return Calibration(
        project, feature, seeds, entities, version, reference, window, detectors, policy, warmup,
        horizon, results, time.perf_counter() - began,
    )  # fmt: skip

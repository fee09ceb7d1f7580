"""Drift calibration: how often each detector alarms on stationary traffic, and how soon it
sees a real shift (`streamscore drift calibrate`; the table is in docs/drift.md).

Everything runs in-process on the real code path, without Kafka:

1. events drawn exactly as `streamscore simulate` draws them (:func:`simulated_rows`: the
   simulator's generators and chunks, without building a dict per event);
2. model input rows as the scoring worker builds them: the event's features as Avro carries
   them (booleans and ints truncated), then the entity's features (the feature store's
   defaults where an outage is simulated), scored by the model's TorchScript file, decided
   with the worker's thresholds;
3. the worker's :class:`~drift.summary.WindowAccumulator`, fed batches of :data:`BATCH` and
   drained after each into a :class:`~drift.state.DriftState` over plain dicts, which closes
   windows by watermark and runs the monitor and the retraining policy, as the drift agent
   does. The policy's clock (its cooldown) is event time: a stream replayed in real time.

Streams (:class:`Scenario`): a stationary one, then after ``warmup`` windows, in the middle
of a window, an abrupt or a gradual (over two windows) shift of one event feature by 0.5, 1
and 2 standard deviations, and an outage in which a share of events is scored with default
entity features. Each is run once, with the configured detectors and policy; the closed
windows are kept, and drift/calibration_table.py replays them through monitors with one
threshold changed at a time.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from drift.detectors import DetectorConfig
from drift.monitor import FEATURES_MISSING
from drift.policy import PolicyConfig
from drift.reference import Reference
from drift.state import Applied, Closed, DriftState
from drift.summary import RepositoryReferences, WindowAccumulator
from drift.windows import WindowConfig
from inference.repository import DEFAULT_MODEL, ModelRepository, ensure_default_model
from schemas.features import EVENT_FEATURES
from streams.features.store import DEFAULTS
from streams.simulation.simulator import CHUNK, Drift, EventSimulator
from streams.worker.pipeline import PipelineConfig

RATE = 1000.0  # events per second of event time: the demo's and the simulator's default
ENTITIES = 1000  # `streamscore simulate`'s default pool
START = datetime(2024, 1, 1, tzinfo=UTC)  # the simulator's default start
BATCH = 512  # events per scored batch (the worker's micro-batch)
BLOCK = 64 * CHUNK  # events generated and scored at once (then cut into batches)
SIGMAS = (0.5, 1.0, 2.0)
SIGMA = "\N{GREEK SMALL LETTER SIGMA}"
OUTAGE_SHARE = 0.25
_N_EVENT = len(EVENT_FEATURES)
_INTS = [i for i, f in enumerate(EVENT_FEATURES) if f.avro_type in ("int", "long")]
_BOOLS = [i for i, f in enumerate(EVENT_FEATURES) if f.avro_type == "boolean"]


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, in integers (a float timestamp can be 1 ms short)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def simulated_rows(
    seed: int, entities: int, drift: Drift | None, count: int, rate: float = RATE,
    start: datetime = START, block: int = BLOCK,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """(event times in epoch ms, float32 model input rows) of the first ``count`` events of
    ``EventSimulator(seed, entities, drift, start, rate)``, ``block`` events at a time: the
    same draws in the same order, event features as the worker decodes them."""
    sim = EventSimulator(seed, entities, drift, start, rate)
    t0 = epoch_ms(sim.start)
    times, rows = [], []
    for chunk in sim.chunks():
        first = chunk.first
        if first >= count:
            break
        index = np.arange(first, first + CHUNK)
        x = chunk.full.copy()
        x[:, _INTS] = np.trunc(x[:, _INTS])  # int(value) in the event
        x[:, _BOOLS] = x[:, _BOOLS] != 0  # bool(value)
        keep = min(CHUNK, count - first)
        rows.append(x[:keep].astype(np.float32))
        times.append(t0 + (index[:keep] * sim.ms_per_event).astype(np.int64))
        if sum(map(len, times)) >= block or first + CHUNK >= count:
            yield np.concatenate(times), np.concatenate(rows)
            times, rows = [], []


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
    scenario: Scenario, model: Any, repository: Path, version: tuple[str, str], seed: int,
    entities: int, window: WindowConfig, detectors: DetectorConfig, policy: PolicyConfig,
) -> StreamResult:  # fmt: skip
    """``scenario`` through the worker's accumulator and the agent's state; its closed windows."""
    began = time.perf_counter()
    name, ver = version
    references = RepositoryReferences(repository)
    accumulator = WindowAccumulator(references, window, producer="calibration")
    state = DriftState({}, {}, {}, references, window, detectors, policy)
    decide = PipelineConfig().decision_index
    outage = np.random.default_rng([seed, 7])
    closed: list[Closed] = []
    first, now_s = 0, 0.0
    for times, x in simulated_rows(seed, entities, scenario.drift, scenario.events):
        missing = np.zeros(len(x), dtype=bool)
        if scenario.missing_share and scenario.onset is not None:
            after = np.arange(first, first + len(x)) >= scenario.onset
            missing = after & (outage.random(len(x)) < scenario.missing_share)
            x[missing, _N_EVENT:] = DEFAULTS
        first += len(x)
        with torch.no_grad():
            scores = model(torch.from_numpy(x)).numpy().reshape(-1)
        decisions = decide(scores)
        for b in range(0, len(x), BATCH):
            part = slice(b, b + BATCH)
            counted = accumulator.add(
                name, ver, times[part], x[part], scores[part], missing[part], decisions[part]
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
    events: int | None = None,
    feature: str = "merchant_risk",
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
    the default model is trained into a temporary folder; with one, its newest version of
    the default model is used (trained there first if there is none)."""
    began = time.perf_counter()
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
    with tempfile.TemporaryDirectory(prefix="streamscore-calibration-") as tmp:
        root = repository or Path(tmp)
        version = (DEFAULT_MODEL, str(ensure_default_model(root)))
        reference = ModelRepository(root).reference(*version)
        if reference is None:
            raise ValueError(f"{version[0]}:{version[1]} in {root} has no reference.json")
        model = ModelRepository(root).load(version[0], int(version[1]))
        results = [
            run_stream(s, model, root, version, k, entities, window, detectors, policy)
            for s in streams
            for k in seeds
        ]
    return Calibration(
        feature, seeds, entities, version, reference, window, detectors, policy, warmup,
        horizon, results, time.perf_counter() - began,
    )  # fmt: skip

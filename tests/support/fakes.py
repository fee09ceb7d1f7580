"""Test doubles for the scoring worker: fake models, feature store, routes and sink.

Each double implements the same contract as the real part (inference.contract.Model,
streams.features.store.FeatureStore.get_many, streams.worker.pipeline.Routes,
streams.worker.sink.Sink) and records what it was asked, so a test can count calls and check
what went through. The codecs, the ScoringPipeline and the BatchRunner stay real.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np

from inference.contract import Model
from inference.errors import ModelUnavailableError
from schemas.codec import codec_for
from schemas.project import Project
from streams.features.store import FeatureRows, FeatureStore, FeatureStoreError, VectorLayout
from streams.routing.state import RoutedModels
from streams.worker.messages import InMessage, OutMessage
from streams.worker.metrics import Metrics
from streams.worker.pipeline import PipelineConfig, ScoringPipeline
from streams.worker.sink import PublishError
from tests.support.projects import (
    EVENT_FIELDS,
    FRAUD,
    INPUT_WIDTH,
    N_EVENT,
    event_fields,
    project_codec,
    sample_features,
)

ScoreFn = Callable[[np.ndarray], np.ndarray]
N_FEATURES = INPUT_WIDTH
LAYOUT = VectorLayout.of(FRAUD)


EVENT_CODEC = project_codec(FRAUD, "event")
PREDICTION_CODEC = codec_for("prediction")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0_MS = 1_700_000_000_000
Record = Mapping[str, Any]
_WEIGHTS = np.linspace(-0.6, 0.6, N_FEATURES)
_EVENT_IDS = itertools.count()


# -- models ----------------------------------------------------------------------------------
def weighted_sigmoid(x: np.ndarray) -> np.ndarray:
    """The default score: a sigmoid of a fixed weighted sum of log1p|row| (float64); on
    sample_features rows it spreads over (0, 1), across every decision."""
    logit = np.log1p(np.abs(x.astype(np.float64))) @ _WEIGHTS + 2.0
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


class FixedModel:
    """A deterministic model: ``score_fn(rows)``; records every batch it was given.

    ``on_predict(model, batch)`` runs first in each call (e.g. to swap routing or to raise).
    """

    def __init__(
        self,
        name: str = "scorer",
        version: str = "1",
        score_fn: ScoreFn = weighted_sigmoid,
        on_predict: Callable[[FixedModel, np.ndarray], None] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.score_fn = score_fn
        self.on_predict = on_predict
        self.batches: list[np.ndarray] = []
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def calls(self) -> int:
        return len(self.batches)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [b.shape for b in self.batches]

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"

    async def load(self) -> None:
        self._ready = True

    async def unload(self) -> None:
        self._ready = False

    async def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.copy())
        if self.on_predict is not None:
            self.on_predict(self, batch)
        return await self._score(batch)

    async def _score(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.score_fn(batch), dtype=np.float64).reshape(len(batch))


class FailingModel(FixedModel):
    """Raises ModelUnavailableError: for the first ``failures`` calls, or (None) until
    :meth:`recover`. Then it scores like a FixedModel."""

    def __init__(
        self, name: str = "scorer", version: str = "1", failures: int | None = None
    ) -> None:
        super().__init__(name, version)
        self.failures = failures
        self.failed = 0

    def recover(self) -> None:
        self.failures = self.failed

    async def _score(self, batch: np.ndarray) -> np.ndarray:
        if self.failures is None or self.failed < self.failures:
            self.failed += 1
            raise ModelUnavailableError(self.label, "fake model is down")
        return await super()._score(batch)


class SlowModel(FixedModel):
    """Sleeps ``delay`` (or the next of a list of delays) before scoring; appends
    ("start"|"end", label) to ``trace`` so a test can see which calls overlapped."""

    def __init__(
        self,
        name: str = "scorer",
        version: str = "1",
        delay: float | Sequence[float] = 0.01,
        trace: list[tuple[str, str]] | None = None,
        score_fn: ScoreFn = weighted_sigmoid,
        on_predict: Callable[[FixedModel, np.ndarray], None] | None = None,
    ) -> None:
        super().__init__(name, version, score_fn, on_predict)
        self._delays = [delay] if isinstance(delay, int | float) else list(delay)
        self.trace = trace if trace is not None else []

    async def _score(self, batch: np.ndarray) -> np.ndarray:
        delay = self._delays[min(self.calls - 1, len(self._delays) - 1)]
        self.trace.append(("start", self.label))
        await asyncio.sleep(delay)
        self.trace.append(("end", self.label))
        return await super()._score(batch)


# -- routes, feature store, sink -------------------------------------------------------------
class StaticRoutes:
    """Routes whose ``models`` a test swaps; counts how often the pipeline read them."""

    def __init__(self, primary: Model, *shadows: Model) -> None:
        self._models = RoutedModels(primary, tuple(shadows))
        self.reads = 0

    @property
    def models(self) -> RoutedModels:
        self.reads += 1
        return self._models

    def swap(self, primary: Model, *shadows: Model) -> None:
        self._models = RoutedModels(primary, tuple(shadows))


class FakeFeatureStore:
    """``get_many`` of the real store over a dict of packed vectors; ``down`` makes it raise
    FeatureStoreError (what the real one does after its retries)."""

    def __init__(
        self,
        vectors: Mapping[str, Sequence[float] | np.ndarray] | None = None,
        layout: VectorLayout = LAYOUT,
    ) -> None:
        self.layout = layout
        self.vectors = {e: np.asarray(v, dtype=np.float32) for e, v in (vectors or {}).items()}
        self.packed = {e: layout.pack(v) for e, v in self.vectors.items()}
        self.down = False
        self.requests: list[list[str]] = []

    @classmethod
    def sampled(cls, entities: Iterable[str], seed: int = 1) -> FakeFeatureStore:
        names = list(entities)
        x = sample_features(np.random.default_rng(seed), len(names))
        return cls({e: x[i, N_EVENT:] for i, e in enumerate(names)})

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def get_many(self, entity_ids: Sequence[str]) -> FeatureRows:
        self.requests.append(list(entity_ids))
        if self.down:
            raise FeatureStoreError("fake store is down")
        return self.layout.unpack_many([self.packed.get(e) for e in entity_ids])


class RecordingSink:
    """A Sink that records every publish call and the messages it acknowledged.

    ``fail_next`` fails that many coming calls (PublishError). With ``hold_acks`` each call
    waits on its own asyncio.Event in ``gates`` until the test sets it.
    """

    def __init__(self, fail_next: int = 0, hold_acks: bool = False) -> None:
        self.fail_next = fail_next
        self.hold_acks = hold_acks
        self.calls: list[list[OutMessage]] = []
        self.acked: list[OutMessage] = []
        self.gates: list[asyncio.Event] = []

    async def publish(self, messages: Sequence[OutMessage]) -> None:
        self.calls.append(list(messages))
        if self.hold_acks:
            gate = asyncio.Event()
            self.gates.append(gate)
            await gate.wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            raise PublishError(f"fake: {len(messages)} not acknowledged")
        self.acked.extend(messages)

    def on(self, topic: str) -> list[OutMessage]:
        """The acknowledged messages of one topic, in order."""
        return [m for m in self.acked if m[0] == topic]


# -- events and predictions ------------------------------------------------------------------
def event_records(
    n: int, *, seed: int = 0, entities: Sequence[str] = ("e0", "e1", "e2"), t0_ms: int = T0_MS
) -> list[dict[str, Any]]:
    """``n`` fraud Event records (logical types) from sample_features, with unique ids."""
    x = sample_features(np.random.default_rng(seed), n)
    records = []
    for i in range(n):
        record: dict[str, Any] = {
            "event_id": f"evt-{next(_EVENT_IDS):06d}",
            "entity_id": entities[i % len(entities)],
            "event_time": EPOCH + timedelta(milliseconds=t0_ms + i),
            "segment": None,
            **event_fields(x[i]),
        }
        records.append(record)
    return records


def to_messages(
    records: Sequence[Record], *, topic: str = "events", partition: int = 0, offset: int = 0
) -> list[InMessage]:
    """Encode with fraud_codec("event"); key = entity_id; consecutive offsets from ``offset``."""
    return [
        InMessage(r["entity_id"].encode(), EVENT_CODEC.encode(r), topic, partition, offset + i)
        for i, r in enumerate(records)
    ]


def event_rows(records: Sequence[Record], store: FakeFeatureStore) -> np.ndarray:
    """The rows a model should see: event fields, then the stored (or default) features."""
    raw = [store.packed.get(r["entity_id"]) for r in records]
    entity = store.layout.unpack_many(raw).values
    events = [[float(r[name]) for name in EVENT_FIELDS] for r in records]
    return np.hstack([np.asarray(events, dtype=np.float32), entity]).astype(np.float32)


def decode_predictions(values: Iterable[bytes]) -> list[dict[str, Any]]:
    return [PREDICTION_CODEC.decode(v) for v in values]


def build_pipeline(
    store: FakeFeatureStore,
    routes: StaticRoutes,
    config: PipelineConfig | None = None,
    metrics: Metrics | None = None,
    project: Project = FRAUD,
) -> ScoringPipeline:
    """The real pipeline, with the worker's codecs, over the fakes."""
    return ScoringPipeline(
        project,
        project_codec(project, "event", logical_types=False),
        PREDICTION_CODEC,
        cast(FeatureStore, store),
        routes,
        config or PipelineConfig(),
        metrics or Metrics(),
    )


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Let the loop run until ``predicate()`` holds; AssertionError after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)


async def settle(rounds: int = 50) -> None:
    """Give every ready task a chance to run (no wall-clock wait)."""
    for _ in range(rounds):
        await asyncio.sleep(0)

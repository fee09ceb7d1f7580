"""Score one micro-batch: decode, enrich, infer, encode. Plain code: it knows nothing of Kafka.

An engine hands in :class:`~streams.worker.messages.InMessage` batches through the
:class:`~streams.worker.batch_runner.BatchRunner`; tests call :meth:`ScoringPipeline.process`
directly. Per batch there is ONE feature-store round trip and ONE model-server request per
model, the primary and every shadow concurrently, all from ONE routing snapshot.

Failure policy (docs/architecture.md, "Delivery and faults"):

- a message that does not decode, or decodes to non-finite features, becomes a dead letter;
- the feature store down (after its bounded retry) ⇒ defaults and ``features_missing=true``,
  or, with ``on_store_down="backpressure"``, :class:`FeatureStoreError` is raised;
- the primary model failing ⇒ :class:`~inference.errors.InferenceError` is raised and nothing
  of the batch is output: the caller holds the batch (back-pressure) and retries it;
- a shadow failing ⇒ the primary outputs go on, the shadow's outputs are counted missing.

Each shadow that answered is compared with the primary on the batch (decisions, |Δ score|:
streams/worker/metrics.py). With a ``monitor``, every scored batch is also counted into drift
window histograms (drift/summary.py) under the primary's version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, NamedTuple, Protocol

import numpy as np
from pydantic import Field, model_validator

from drift.summary import WindowAccumulator
from inference.contract import Model
from infra.config import Section
from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from schemas.event_columns import EventColumnDecoder, EventColumns
from schemas.features import EVENT_FEATURE_NAMES, N_FEATURES
from schemas.prediction_writer import PredictionWriter
from streams.features.store import DEFAULTS, FeatureRows, FeatureStore, FeatureStoreError
from streams.routing.state import RoutedModels
from streams.worker.arms import Arms, arms_of, interleave, pick
from streams.worker.messages import BatchResult, DeadLetter, InMessage, OutRecord
from streams.worker.metrics import Metrics, compare_shadow
from streams.worker.model_calls import Scored, infer, label_of

log = logging.getLogger(__name__)
_DECISIONS = np.array(["approve", "review", "decline"], dtype=object)


class PipelineConfig(Section):
    """What the pipeline decides, and what it does when the feature store is down."""

    env_prefix: ClassVar[str] = ""

    on_store_down: Literal["defaults", "backpressure"] = Field(
        "defaults",
        description="Feature store down after retries: score with defaults, or stop taking.",
    )
    review_threshold: float = Field(0.3, ge=0, le=1, description="Score from which to review.")
    decline_threshold: float = Field(0.7, ge=0, le=1, description="Score from which to decline.")

    @model_validator(mode="after")
    def _ordered(self) -> PipelineConfig:
        if self.review_threshold > self.decline_threshold:
            raise ValueError("review_threshold must not be above decline_threshold")
        return self

    def decision_index(self, scores: np.ndarray) -> np.ndarray:
        """0 approve, 1 review (score ≥ review), 2 decline (score ≥ decline)."""
        review = (scores >= self.review_threshold).astype(np.int64)
        return review + (scores >= self.decline_threshold)

    def decide(self, scores: np.ndarray) -> list[str]:
        return list(_DECISIONS[self.decision_index(scores)])


class Prepared(NamedTuple):
    """A batch decoded and enriched, waiting for the model server (``finish``)."""

    result: BatchResult  # dead letters so far
    kept: list[InMessage]  # the messages behind ``events``, in order
    events: EventColumns
    x: np.ndarray  # the model input, one row per event
    missing: np.ndarray  # features_missing per event
    timings: dict[str, float]  # decode_ms and features_ms


_NO_ROWS = np.empty((0, N_FEATURES), dtype=np.float32)
_NO_MISSING = np.empty(0, dtype=bool)


class Routes(Protocol):
    """Where the pipeline takes its models from, once per batch (streams/routing/live.py)."""

    @property
    def models(self) -> RoutedModels: ...


class ScoringPipeline:
    """``event_codec`` reads timestamps as epoch-ms ints (``logical_types=False``): the hot
    path never builds a datetime, and predictions are written by :class:`PredictionWriter`."""

    def __init__(
        self,
        event_codec: AvroCodec,
        prediction_codec: AvroCodec,
        store: FeatureStore,
        routes: Routes,
        config: PipelineConfig,
        metrics: Metrics,
        monitor: WindowAccumulator | None = None,
    ) -> None:
        self.event_codec = event_codec
        self.decoder = EventColumnDecoder(event_codec)
        self.monitor = monitor
        self.writer = PredictionWriter(prediction_codec)
        self.store = store
        self.routes = routes
        self.config = config
        self.metrics = metrics

    async def process(self, messages: Sequence[InMessage]) -> BatchResult:
        """The whole batch at once: :meth:`prepare`, then :meth:`finish`."""
        prepared = await self.prepare(messages)
        return await self.finish(prepared)

    async def prepare(self, messages: Sequence[InMessage]) -> Prepared:
        """Decode and enrich: everything before the model server, so that the runner can
        prepare the next batch while the model server scores this one."""
        m = self.metrics
        result = BatchResult()
        t0 = time.perf_counter()
        events, kept = self._decode(messages, result)
        t1 = time.perf_counter()
        m.stage_seconds.labels("decode").observe(t1 - t0)
        if not len(events):
            return Prepared(result, kept, events, _NO_ROWS, _NO_MISSING, {})

        rows = await self._features(events.entity_ids, result)
        t2 = time.perf_counter()
        m.stage_seconds.labels("features").observe(t2 - t1)

        x = np.empty((len(events), N_FEATURES), dtype=np.float32)
        x[:, : len(EVENT_FEATURE_NAMES)] = events.features
        x[:, len(EVENT_FEATURE_NAMES) :] = rows.values
        finite = np.isfinite(x).all(axis=1)
        missing = rows.missing
        if not finite.all():
            for i in np.flatnonzero(~finite):
                result.dead_letters.append(
                    DeadLetter(kept[i], "InvalidEvent", "invalid-value", "non-finite feature")
                )
                m.dlq.labels("invalid-value").inc()
            events = events.take(finite)
            kept = [msg for msg, ok in zip(kept, finite, strict=True) if ok]
            x, missing = x[finite], missing[finite]
        timings = {"decode_ms": (t1 - t0) * 1e3, "features_ms": (t2 - t1) * 1e3}
        return Prepared(result, kept, events, x, missing, timings)

    async def finish(self, prepared: Prepared) -> BatchResult:
        """Score a prepared batch on every routed model and encode the outputs."""
        m = self.metrics
        result, kept, events, x, missing = prepared[:5]
        if not len(events):
            return result  # nothing left to ask a model about
        models = self.routes.models  # one snapshot for the whole batch
        keys = [e.encode() for e in events.entity_ids]
        arms = arms_of(models, keys)
        t2 = time.perf_counter()
        first, shadow_scores, canary = await infer(models, x, result, arms, self.metrics)
        primary = first.scores
        t3 = time.perf_counter()
        m.stage_seconds.labels("infer").observe(t3 - t2)

        timings = {**prepared.timings, "infer_ms": (t3 - t2) * 1e3, "publish_ms": 0.0}
        now_ms = int(time.time() * 1000)
        times = events.event_time.tolist()
        parts = self.writer.event_parts(events.event_ids, events.entity_ids, times)
        flags = missing.tolist()

        def outputs(
            model: Model, scores: np.ndarray, infer_ms: float, role: str, rows: Any = None
        ) -> list[OutRecord]:
            p, k, t, f = (
                (parts, keys, times, flags)
                if rows is None
                else (pick(parts, rows), pick(keys, rows), pick(times, rows), pick(flags, rows))
            )
            values = self.writer.encode(
                p, scores.tolist(), self.config.decide(scores), f, model.name,
                model.version, now_ms, {**timings, "infer_ms": infer_ms}, role,
            )  # fmt: skip
            return list(map(OutRecord, k, values, t))

        decisions = self.config.decision_index(primary)
        if arms is None or canary is None:
            result.predictions = outputs(models.primary, primary, first.infer_ms, "primary")
            m.decided.labels(label_of(models.primary), "primary").inc(len(primary))
            if arms is not None and models.canary is not None:
                m.canary_fallbacks.labels(label_of(models.canary)).inc(len(arms.canary))
                arms = None
        else:
            assert models.canary is not None
            result.predictions = interleave(
                arms,
                outputs(models.primary, primary[arms.primary], first.infer_ms, "primary",
                        arms.primary),
                outputs(models.canary, canary.scores, canary.infer_ms, "canary", arms.canary),
            )  # fmt: skip
            m.decided.labels(label_of(models.primary), "primary").inc(len(arms.primary))
            m.decided.labels(label_of(models.canary), "canary").inc(len(arms.canary))
        for shadow, scored in shadow_scores:
            result.shadow.extend(outputs(shadow, scored.scores, scored.infer_ms, "shadow"))
            vs = self.config.decision_index(scored.scores)
            compared = compare_shadow(primary, decisions, scored.scores, vs)
            m.count_shadow(label_of(shadow), compared)
        t4 = time.perf_counter()
        m.stage_seconds.labels("encode").observe(t4 - t3)
        if self.monitor is not None:
            self._count_drift(models, events.event_time, x, primary, missing, decisions,
                              kept, arms, canary)  # fmt: skip
            m.stage_seconds.labels("drift").observe(time.perf_counter() - t4)
        return result

    def _count_drift(
        self, models: RoutedModels, times_ms: np.ndarray, x: np.ndarray, primary: np.ndarray,
        missing: np.ndarray, decisions: np.ndarray, kept: list[InMessage], arms: Arms | None,
        canary: Scored | None,
    ) -> None:  # fmt: skip
        """What each deciding model saw and said, for drift (drift/summary.py), under its own
        version: vectorised, ~µs. A canary's rows count under the canary."""
        assert self.monitor is not None
        due = self.monitor.progress_due()
        partitions = (
            np.fromiter((msg.partition for msg in kept), np.int64, len(kept)) if due else None
        )
        parts: list[tuple[Model, Any, np.ndarray, np.ndarray]]
        if arms is None or canary is None or models.canary is None:
            parts = [(models.primary, slice(None), primary, decisions)]
        else:
            can = self.config.decision_index(canary.scores)
            parts = [
                (models.primary, arms.primary, primary[arms.primary], decisions[arms.primary]),
                (models.canary, arms.canary, canary.scores, can),
            ]
        for model, rows, scores, decided in parts:
            if not len(scores):
                continue
            counted = self.monitor.add(
                model.name, model.version, times_ms[rows], x[rows], scores, missing[rows],
                decided, None if partitions is None else partitions[rows], due,
            )  # fmt: skip
            if not counted:
                self.metrics.drift_unmonitored.inc(len(scores))

    def _decode(
        self, messages: Sequence[InMessage], result: BatchResult
    ) -> tuple[EventColumns, list[InMessage]]:
        """The batch as columns (schemas/event_columns.py: one numpy pass per field), and
        the messages behind them; the ones that do not decode become dead letters."""
        events, bad = self.decoder.decode([msg.value for msg in messages])
        if not bad:
            return events, list(messages)
        for i, err in bad:
            result.dead_letters.append(_dead_letter(messages[i], err))
            self.metrics.dlq.labels(err.reason).inc()
        return events, [messages[i] for i in events.index.tolist()]

    async def _features(self, entity_ids: list[str], result: BatchResult) -> FeatureRows:
        try:
            rows = await self.store.get_many(entity_ids)
        except FeatureStoreError:
            if self.config.on_store_down == "backpressure":
                raise
            self.metrics.features_missing.labels("store-down").inc(len(entity_ids))
            rows = FeatureRows(
                np.tile(DEFAULTS, (len(entity_ids), 1)), np.ones(len(entity_ids), dtype=bool)
            )
        else:
            n_missing = int(rows.missing.sum())
            if n_missing:
                self.metrics.features_missing.labels("unknown-entity").inc(n_missing)
        result.features_missing = int(rows.missing.sum())
        return rows


def _dead_letter(message: InMessage, err: DecodeError) -> DeadLetter:
    return DeadLetter(message, type(err).__name__, str(err.reason), err.detail)

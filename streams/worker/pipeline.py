"""Score one micro-batch: decode, enrich, infer, encode. Plain code: it knows nothing of Kafka.

An engine hands in :class:`~streams.worker.messages.InMessage` batches through the
:class:`~streams.worker.batch_runner.BatchRunner`; tests call :meth:`ScoringPipeline.process`
directly. Per batch there is ONE feature-store round trip and ONE model-server request per
model, the primary and every shadow concurrently, all from ONE routing snapshot.

What is scored is the project's (schemas/project): its event fields, its feature view, its
input layout; each model's outputs become a score and a decision by its decider
(schemas/project/decisions.py), and every prediction carries the outputs and the event
fields the project passes through.

Failure policy (docs/architecture.md, "Delivery and faults"):

- a message that does not decode, or decodes to non-finite inputs, becomes a dead letter;
- the feature store down (after its bounded retry) ⇒ defaults and ``features_missing=true``,
  or, with ``on_store_down="backpressure"``, :class:`FeatureStoreError` is raised;
- a vector older than the feature view's ttl ⇒ defaults and ``features_stale=true``;
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
from pydantic import Field

from drift.summary import WindowAccumulator
from inference.contract import Model
from infra.config import Section
from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from schemas.event_columns import EventColumnDecoder, EventColumns
from schemas.prediction_writer import PredictionWriter, avro_map
from schemas.project import Project
from schemas.project.avro import base_kind, fields_of, kind_of
from streams.features.store import FeatureRows, FeatureStore, FeatureStoreError
from streams.routing.state import RoutedModels
from streams.worker.arms import Arms, arms_of, interleave, pick
from streams.worker.messages import BatchResult, DeadLetter, InMessage, OutRecord
from streams.worker.metrics import Metrics, compare_shadow
from streams.worker.model_calls import Scored, infer, label_of

log = logging.getLogger(__name__)


class PipelineConfig(Section):
    """What the pipeline does when the feature store is down."""

    env_prefix: ClassVar[str] = ""

    on_store_down: Literal["defaults", "backpressure"] = Field(
        "defaults",
        description="Feature store down after retries: score with defaults, or stop taking.",
    )


class Prepared(NamedTuple):
    """A batch decoded and enriched, waiting for the model server (``finish``)."""

    result: BatchResult  # dead letters so far
    kept: list[InMessage]  # the messages behind ``events``, in order
    events: EventColumns
    x: np.ndarray  # the model input, one row per event
    missing: np.ndarray  # features_missing per event
    stale: np.ndarray  # features_stale per event
    timings: dict[str, float]  # decode_ms and features_ms


_NO_FLAGS = np.empty(0, dtype=bool)


class Routes(Protocol):
    """Where the pipeline takes its models from, once per batch (streams/routing/live.py)."""

    @property
    def models(self) -> RoutedModels: ...


class _Decided(NamedTuple):
    """One model's answer for some rows, as predictions carry it."""

    outputs: np.ndarray  # (rows, columns) float64
    scores: np.ndarray  # (rows,)
    decisions: np.ndarray  # (rows,) decision indices of the model's decider
    infer_ms: float


class ScoringPipeline:
    """``event_codec`` reads timestamps as epoch-ms ints (``logical_types=False``): the hot
    path never builds a datetime, and predictions are written by :class:`PredictionWriter`."""

    def __init__(
        self,
        project: Project,
        event_codec: AvroCodec,
        prediction_codec: AvroCodec,
        store: FeatureStore,
        routes: Routes,
        config: PipelineConfig,
        metrics: Metrics,
        monitor: WindowAccumulator | None = None,
    ) -> None:
        self.project = project
        self.layout = project.layout
        events = project.spec.events
        kinds = {name: kind_of(f["type"]) for name, f in fields_of(event_codec.schema).items()}
        self.attributes = [(name, base_kind(kinds[name])) for name in events.attributes]
        text = [n for n, k in self.attributes if k in ("string", "enum")]
        numbers = [n for n, k in self.attributes if k not in ("string", "enum")]
        self.decoder = EventColumnDecoder(
            event_codec,
            id=events.id,
            entity=events.entity,
            time=events.time,
            numbers=tuple(dict.fromkeys((*self.layout.number_fields, *numbers))),
            text=tuple(dict.fromkeys((*self.layout.text_fields, *text))),
        )
        self.event_codec = event_codec
        self.monitor = monitor
        self.writer = PredictionWriter(prediction_codec)
        self.store = store
        self.routes = routes
        self.config = config
        self.metrics = metrics
        self._no_rows = np.empty((0, self.layout.width), dtype=np.float32)

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
            return Prepared(result, kept, events, self._no_rows, _NO_FLAGS, _NO_FLAGS, {})

        rows = await self._features(events.entity_ids, result)
        t2 = time.perf_counter()
        m.stage_seconds.labels("features").observe(t2 - t1)

        x = self.layout.matrix(events.fields, rows.values)
        finite = np.isfinite(x).all(axis=1)
        missing, stale = rows.missing, rows.stale
        if not finite.all():
            for i in np.flatnonzero(~finite):
                result.dead_letters.append(
                    DeadLetter(kept[i], "InvalidEvent", "invalid-value", "non-finite input")
                )
                m.dlq.labels("invalid-value").inc()
            events = events.take(finite)
            kept = [msg for msg, ok in zip(kept, finite, strict=True) if ok]
            x, missing, stale = x[finite], missing[finite], stale[finite]
        timings = {"decode_ms": (t1 - t0) * 1e3, "features_ms": (t2 - t1) * 1e3}
        return Prepared(result, kept, events, x, missing, stale, timings)

    async def finish(self, prepared: Prepared) -> BatchResult:
        """Score a prepared batch on every routed model and encode the outputs."""
        m = self.metrics
        result, kept, events, x, missing, stale = prepared[:6]
        if not len(events):
            return result  # nothing left to ask a model about
        models = self.routes.models  # one snapshot for the whole batch
        keys = [e.encode() for e in events.entity_ids]
        arms = arms_of(models, keys)
        t2 = time.perf_counter()
        first, shadow_answers, canary_answer = await infer(models, x, result, arms, self.metrics)
        primary = self._decided(models.primary, first)
        t3 = time.perf_counter()
        m.stage_seconds.labels("infer").observe(t3 - t2)

        timings = {**prepared.timings, "infer_ms": (t3 - t2) * 1e3, "publish_ms": 0.0}
        now_ms = int(time.time() * 1000)
        times = events.event_time.tolist()
        parts = self.writer.event_parts(events.event_ids, events.entity_ids, times)
        flags = missing.tolist()
        attributes = self._attributes(events)

        def outputs(model: Model, d: _Decided, role: str, rows: Any = None) -> list[OutRecord]:
            names = self.project.decider(model.name).names_of(d.decisions)
            if rows is None:
                p, k, t, f, s, a = parts, keys, times, flags, stale, attributes
            else:
                p, k, t, f = (
                    pick(parts, rows),
                    pick(keys, rows),
                    pick(times, rows),
                    pick(flags, rows),
                )
                s, a = stale[rows], None if attributes is None else pick(attributes, rows)
            values = self.writer.encode(
                p, d.scores.tolist(), names, f, model.name, model.version, now_ms,
                {**timings, "infer_ms": d.infer_ms}, role, s, d.outputs, a,
            )  # fmt: skip
            return list(map(OutRecord, k, values, t))

        canary: _Decided | None = None
        if arms is not None and canary_answer is not None and models.canary is not None:
            canary = self._decided(models.canary, canary_answer)
        if arms is None or canary is None:
            result.predictions = outputs(models.primary, primary, "primary")
            m.decided.labels(label_of(models.primary), "primary").inc(len(x))
            if arms is not None and models.canary is not None:
                m.canary_fallbacks.labels(label_of(models.canary)).inc(len(arms.canary))
                arms = None
        else:
            assert models.canary is not None
            mine = _Decided(primary.outputs[arms.primary], primary.scores[arms.primary],
                            primary.decisions[arms.primary], primary.infer_ms)  # fmt: skip
            result.predictions = interleave(
                arms,
                outputs(models.primary, mine, "primary", arms.primary),
                outputs(models.canary, canary, "canary", arms.canary),
            )
            m.decided.labels(label_of(models.primary), "primary").inc(len(arms.primary))
            m.decided.labels(label_of(models.canary), "canary").inc(len(arms.canary))
        for shadow, answer in shadow_answers:
            scored = self._decided(shadow, answer)
            result.shadow.extend(outputs(shadow, scored, "shadow"))
            compared = compare_shadow(primary.scores, primary.decisions, scored.scores,
                                      scored.decisions)  # fmt: skip
            m.count_shadow(label_of(shadow), compared)
        t4 = time.perf_counter()
        m.stage_seconds.labels("encode").observe(t4 - t3)
        if self.monitor is not None:
            self._count_drift(models, events.event_time, x, primary, missing, stale, kept,
                              arms, canary)  # fmt: skip
            m.stage_seconds.labels("drift").observe(time.perf_counter() - t4)
        return result

    def _decided(self, model: Model, answer: Scored) -> _Decided:
        decider = self.project.decider(model.name)
        out = decider.outputs(answer.outputs)
        return _Decided(out, decider.scores(out), decider.decide(out), answer.infer_ms)

    def _attributes(self, events: EventColumns) -> list[bytes] | None:
        """Each event's attributes map (None when the project passes none through)."""
        if not self.attributes:
            return None
        columns = []
        for name, kind in self.attributes:
            if name in events.fields.text:
                columns.append(events.fields.text[name])
            else:
                values, present = events.fields.numbers[name], events.fields.present.get(name)
                columns.append(_as_text(values, present, kind))
        return [
            avro_map([(n, v) for (n, _), v in zip(self.attributes, row, strict=True)
                      if v is not None])
            for row in zip(*columns, strict=True)
        ]  # fmt: skip

    def _count_drift(
        self, models: RoutedModels, times_ms: np.ndarray, x: np.ndarray, primary: _Decided,
        missing: np.ndarray, stale: np.ndarray, kept: list[InMessage], arms: Arms | None,
        canary: _Decided | None,
    ) -> None:  # fmt: skip
        """What each deciding model saw and said, for drift (drift/summary.py), under its own
        version: vectorised, ~µs. A canary's rows count under the canary."""
        assert self.monitor is not None
        due = self.monitor.progress_due()
        partitions = (
            np.fromiter((msg.partition for msg in kept), np.int64, len(kept)) if due else None
        )
        parts: list[tuple[Model, Any, _Decided]]
        if arms is None or canary is None or models.canary is None:
            parts = [(models.primary, slice(None), primary)]
        else:
            mine = _Decided(primary.outputs[arms.primary], primary.scores[arms.primary],
                            primary.decisions[arms.primary], primary.infer_ms)  # fmt: skip
            parts = [(models.primary, arms.primary, mine), (models.canary, arms.canary, canary)]
        for model, rows, d in parts:
            if not len(d.scores):
                continue
            counted = self.monitor.add(
                model.name, model.version, times_ms[rows], x[rows], d.scores, missing[rows],
                d.decisions, None if partitions is None else partitions[rows], due,
                stale=stale[rows], n_decisions=len(self.project.decider(model.name).names),
            )  # fmt: skip
            if not counted:
                self.metrics.drift_unmonitored.inc(len(d.scores))

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
            rows = FeatureRows.defaults(self.store.layout, len(entity_ids))
        else:
            n_missing = int(rows.missing.sum())
            if n_missing:
                self.metrics.features_missing.labels("unknown-entity").inc(n_missing)
            n_stale = int(rows.stale.sum())
            if n_stale:
                self.metrics.features_stale.inc(n_stale)
            n_unknown = int(rows.unknown_age.sum())
            if n_unknown:
                self.metrics.features_age_unknown.inc(n_unknown)
        result.features_missing = int(rows.missing.sum())
        return rows


def _as_text(values: np.ndarray, present: np.ndarray | None, kind: str) -> list[str | None]:
    """Numbers of an attribute field as the strings a prediction's attributes carry."""
    if kind == "boolean":
        texts = ["true" if v else "false" for v in values.tolist()]
    elif kind in ("int", "long"):
        texts = [str(int(v)) for v in values.tolist()]
    else:
        texts = [repr(float(v)) for v in values.tolist()]
    if present is None:
        return list(texts)
    return [t if p else None for t, p in zip(texts, present.tolist(), strict=True)]


def _dead_letter(message: InMessage, err: DecodeError) -> DeadLetter:
    return DeadLetter(message, type(err).__name__, str(err.reason), err.detail)

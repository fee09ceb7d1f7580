"""The retraining worker: answers each retraining request once, on `retraining.results`.

For each request (a librdkafka consumer in group ``training.app_id``, offsets committed by hand):

1. An undecodable request is logged, counted and skipped: it has no id to answer.
   A request_id already answered is skipped: on start the worker reads the whole results
   topic to learn them, then remembers each one it answers.
2. A model with no version in the model repository: rejected, "unknown model".
3. The primary is the routing's primary when it is a version of the model, else the
   model's newest version in the repository; it is loaded on Triton if it is not ready.
4. The training set is read from the topics (dataset.py), the candidate trained and gated
   against the primary's scores from Triton, the serving truth (inference/retraining.py).
5. Accepted: the candidate is exported as a new version with its model card (its lineage:
   the offsets read, the request, the metrics, the parent; lineage.py) and its reference
   distributions, loaded on Triton, and once that version is ready it is added as a shadow
   (a watched read-modify-write of the routing value; with no routing stored yet, the
   primary of step 3 becomes the primary).
6. The result (key model_name) is published and acknowledged; then the request's offset is
   committed. A request whose result was not acknowledged when the worker stops is read
   again on restart; a crash between export and commit may thus export a version twice.

Any failure in 3-5 (Triton, Redis, Kafka, or a bug) rejects the request with the error as its
reason: one request never stops the worker.

Its metrics (metrics.py; ``/metrics`` on ``STREAMSCORE_RETRAIN_METRICS_PORT`` when run by
:func:`run`) say which step a request is in and how long each took: reading covers steps 3-4's
finding the primary and reading the set, training and gating are told by ``retrain``,
exporting and loading are step 5.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from inference.card import ModelCard
from inference.golden import project_set
from inference.repository import ModelRepository
from inference.retraining import RetrainOutcome, retrain
from inference.shipping import ship_trained
from infra.errors import StreamScoreError
from schemas.errors import DecodeError
from streams.client.admin import check_topic
from streams.client.errors import KAFKA_LOG
from streams.client.producer import PRODUCER_DEFAULTS
from streams.retraining import lineage, results, serving
from streams.retraining.dataset import DatasetReader
from streams.retraining.metrics import RetrainingMetrics
from streams.retraining.settings import RetrainingSettings
from streams.routing.state import ModelRef, RoutingError, read_sync, routing_key

log = logging.getLogger("streamscore.retraining")

MAX_POLL_INTERVAL_MS = 3_600_000  # one request may train for a long time between polls
FAILURES = (StreamScoreError, redis.RedisError, KafkaException)


@dataclass(slots=True)
class WorkerStats:
    requests: int = 0
    duplicates: int = 0
    undecodable: int = 0
    accepted: int = 0
    rejected: int = 0


def _now_ms() -> int:
    return int(time.time() * 1000)


class RetrainingWorker:
    """Consumes retraining requests until ``stop`` is set (between requests)."""

    def __init__(self, settings: RetrainingSettings, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.project = settings.use_case()
        self.repo = ModelRepository(settings.model_repository)
        self.requests = settings.codec("retraining_request", logical_types=False)
        self.results = settings.codec("retraining_result", logical_types=False)
        self.handled: set[str] = set()
        self.stats = WorkerStats()
        self.metrics = RetrainingMetrics()

    def run(self) -> None:
        topics = self.settings.topics
        for topic in (topics.retraining, topics.retraining_results):
            check_topic(self.settings, topic)
        self.handled = results.answered(self.settings, self.results)
        log.info("%d request(s) already answered", len(self.handled))
        kafka = self.settings.kafka
        # Every delivery reports back: a result counts only once acknowledged.
        conf = {**PRODUCER_DEFAULTS, "delivery.report.only.error": False, "logger": KAFKA_LOG}
        producer = Producer(kafka.librdkafka(**conf))
        consumer = Consumer(
            kafka.librdkafka(
                **{
                    "group.id": self.settings.training.app_id,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
                    "logger": KAFKA_LOG,
                }
            )
        )
        consumer.subscribe([topics.retraining])
        try:
            while not self.stop.is_set():
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        log.warning("reading requests: %s", err.str())
                    continue
                if not self._handle(msg, producer):
                    break  # stopping before the result was acknowledged: read again later
                consumer.commit(message=msg, asynchronous=False)
        finally:
            consumer.close()
            producer.flush(5.0)
            log.info("stopped: %s", self.stats)

    def _handle(self, msg: Message, producer: Producer) -> bool:
        """True once the request needs nothing more (answered or skipped)."""
        try:
            request = self.requests.decode(msg.value() or b"")
        except DecodeError as exc:
            self.stats.undecodable += 1
            self.metrics.requests.labels("undecodable").inc()
            where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
            log.warning("skipping an undecodable request at %s: %s", where, exc)
            return True
        request_id = request["request_id"]
        if request_id in self.handled:
            self.stats.duplicates += 1
            self.metrics.requests.labels("duplicate").inc()
            log.info("request %s was answered already: skipped", request_id)
            return True
        self.stats.requests += 1
        log.info(
            "request %s: retrain %s (%s)", request_id, request["model_name"], request["reason"]
        )
        result = self.process(request)
        if not results.publish(producer, self.settings, self.results, result, self.stop):
            return False
        self.handled.add(request_id)
        self.metrics.answered(result["outcome"], result["model_name"], result["new_version"])
        if result["outcome"] == "accepted":
            self.stats.accepted += 1
        else:
            self.stats.rejected += 1
        log.info("request %s: %s %s", request_id, result["outcome"], result["reasons"])
        return True

    def process(self, request: dict[str, Any]) -> dict[str, Any]:
        """The result of one request (never raises for a failure of the services)."""
        name = request["model_name"]
        to_ms = request["to_time"] if request["to_time"] is not None else _now_ms()
        from_ms = request["from_time"]
        if from_ms is None:
            from_ms = to_ms - int(self.settings.training.lookback_s * 1000)
        result: dict[str, Any] = {
            "result_id": str(uuid.uuid4()),
            "request_id": request["request_id"],
            "model_name": name,
            "outcome": "rejected",
            "reasons": [],
            "new_version": None,
            "metrics": {},
            "primary_version": None,
            "from_time": from_ms,
            "to_time": to_ms,
        }
        if not self.repo.versions(name):
            root = self.settings.model_repository
            result["reasons"] = [f"unknown model {name!r}: no version of it in {root}"]
        elif from_ms > to_ms:
            result["reasons"] = [f"the range starts ({from_ms}) after it ends ({to_ms})"]
        else:
            try:
                self._retrain(request, result)
            except Exception as exc:  # one request never stops the worker: its result says why
                log.exception("request %s failed", request["request_id"])
                result["reasons"].append(f"retraining failed: {type(exc).__name__}: {exc}")
            finally:
                self.metrics.enter("idle")
        result["finished_at"] = _now_ms()
        return result

    def _retrain(self, request: dict[str, Any], result: dict[str, Any]) -> None:
        name, settings = request["model_name"], self.settings
        triton, store = settings.triton.client(), settings.redis.client()
        step = self.metrics.enter
        try:
            step("reading")
            primary = self._primary(store, name)
            result["primary_version"] = primary.version
            serving.ensure_ready(triton, primary, settings.training.ready_timeout_s, self.repo)
            reader = DatasetReader(settings)
            data, stats = reader.read(result["from_time"], result["to_time"])
            project = self.project
            outcome = retrain(
                data,
                lambda x: serving.outputs(triton, primary, x, project),
                settings.gate,
                settings.training.recipe(project, name),
                project.decider(name),
                golden=project_set(project),
                on_step=step,
            )
            result["metrics"] = {**stats.metrics(), **outcome.metrics}
            result["reasons"] = list(outcome.reasons)
            if not outcome.accepted:
                return
            step("exporting")
            spans = reader.spans
            card = lineage.card_for(settings, request, result, outcome, stats, spans, primary)
            version = self._export(name, outcome, card)
            result["new_version"] = ref_version = str(version)
            step("loading")
            try:
                new_ref, timeout_s = ModelRef(name, ref_version), settings.training.ready_timeout_s
                serving.ensure_ready(triton, new_ref, timeout_s, self.repo)
                serving.add_shadow(store, self.project, ModelRef(name, ref_version), primary)
            except FAILURES as exc:
                result["reasons"] = [
                    f"passed the gate and was exported as version {version}, but could not "
                    f"be served as a shadow: {type(exc).__name__}: {exc}"
                ]
                return
            result["outcome"] = "accepted"
        finally:
            triton.close()
            store.close()

    def _primary(self, store: redis.Redis, name: str) -> ModelRef:
        try:
            routing = read_sync(store, routing_key(self.project.name))
        except (RoutingError, redis.RedisError) as exc:
            log.warning("routing unreadable (%s): using the newest version of %s", exc, name)
            routing = None
        if routing is not None and routing.primary.name == name:
            return routing.primary
        return ModelRef(name, str(self.repo.versions(name)[-1]))

    def _export(self, name: str, outcome: RetrainOutcome, card: ModelCard) -> int:
        assert outcome.model is not None and outcome.train_x is not None
        serving_config = serving.serving_config(self.settings.triton)
        return ship_trained(self.project, self.repo, name, outcome.model, outcome.train_x,
                            card, serving_config)  # fmt: skip


def run(settings: RetrainingSettings) -> WorkerStats:
    """Run a worker until SIGTERM or SIGINT (handled when called from the main thread)."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    worker = RetrainingWorker(settings, stop)
    if settings.training.metrics_port:
        worker.metrics.serve(settings.training.metrics_port)
        log.info("metrics on :%d/metrics", settings.training.metrics_port)
    worker.run()
    return worker.stats

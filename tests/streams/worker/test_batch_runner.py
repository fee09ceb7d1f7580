"""BatchRunner: in-order acknowledgement, publish retries, poison isolation, holding a batch.

The real BatchRunner over the real ScoringPipeline; only the models, the feature store and
the sink are fakes (tests/support/fakes.py): no Kafka, Redis or Triton; backoffs <= 0.05 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import pytest

from inference.errors import ModelUnavailableError
from streams.backoff import never
from streams.topics import TopicNames
from streams.worker.batch_runner import BatchRunner, RunnerConfig
from streams.worker.latency_target import LatencyTarget
from streams.worker.messages import OutMessage
from streams.worker.metrics import Metrics
from streams.worker.pipeline import PipelineConfig
from tests.support.fakes import (
    N_FEATURES,
    FailingModel,
    FakeFeatureStore,
    FixedModel,
    Record,
    RecordingSink,
    SlowModel,
    StaticRoutes,
    build_pipeline,
    decode_predictions,
    event_records,
    settle,
    to_messages,
    wait_until,
)

TOPICS = TopicNames()


def make_runner(
    primary: FixedModel,
    sink: RecordingSink,
    *,
    store: FakeFeatureStore | None = None,
    config: PipelineConfig | None = None,
    max_in_flight: int = 3,
    should_stop: Callable[[], bool] = never,
    metrics: Metrics | None = None,
) -> BatchRunner:
    metrics = metrics or Metrics()
    pipeline = build_pipeline(store or FakeFeatureStore(), StaticRoutes(primary), config, metrics)
    runner_config = RunnerConfig(max_in_flight=max_in_flight, retry_max_backoff_s=0.05)
    return BatchRunner(pipeline, sink, TOPICS, metrics, runner_config, should_stop)


def published_ids(messages: Sequence[OutMessage]) -> list[str]:
    """event_ids of the prediction messages among ``messages``, in order."""
    return [
        p["event_id"]
        for p in decode_predictions(m[2] for m in messages if m[0] == TOPICS.predictions)
    ]


def ids(records: Sequence[Record]) -> list[str]:
    return [r["event_id"] for r in records]


class Acks:
    """``acknowledge`` callbacks: their order, and the batches acknowledged too early."""

    def __init__(self, sink: RecordingSink) -> None:
        self.sink = sink
        self.order: list[int] = []
        self.early: list[int] = []

    def of(self, batch: int, records: Sequence[Record]) -> Callable[[], Awaitable[None]]:
        async def acknowledge() -> None:
            if not set(ids(records)) <= set(published_ids(self.sink.acked)):
                self.early.append(batch)
            self.order.append(batch)

        return acknowledge


def test_batches_are_acknowledged_in_order_when_acks_come_back_reversed() -> None:
    sink = RecordingSink(hold_acks=True)
    runner, acks = make_runner(FixedModel(), sink, max_in_flight=3), Acks(sink)
    batches = [event_records(n) for n in (2, 3, 4)]

    async def main() -> None:
        for i, records in enumerate(batches):
            await runner.submit(to_messages(records, offset=10 * i), acks.of(i, records))
        await wait_until(lambda: len(sink.gates) == 3)  # all three await their acks
        assert [published_ids(call) for call in sink.calls] == [ids(b) for b in batches]
        for gate in (2, 1):
            sink.gates[gate].set()
            await settle()
            assert acks.order == []  # batch 0 is not acked yet: nothing may be
        assert published_ids(sink.acked) == ids(batches[2]) + ids(batches[1])
        sink.gates[0].set()
        await runner.drain()

    asyncio.run(main())
    assert acks.order == [0, 1, 2]
    assert acks.early == []


def test_no_more_than_max_in_flight_batches_await_acks() -> None:
    sink = RecordingSink(hold_acks=True)
    runner, acks = make_runner(FixedModel(), sink, max_in_flight=2), Acks(sink)
    batches = [event_records(2) for _ in range(4)]

    async def main() -> None:
        for i in (0, 1, 2):  # the third is scored, then waits for a publish slot…
            await runner.submit(to_messages(batches[i]), acks.of(i, batches[i]))
        fourth = asyncio.create_task(runner.submit(to_messages(batches[3]), acks.of(3, batches[3])))
        await settle()
        assert not fourth.done()  # …so the fourth, prepared, waits for the model server
        assert len(sink.calls) == 2
        sink.gates[0].set()
        await asyncio.wait_for(fourth, 1)
        assert acks.order == [0]
        await wait_until(lambda: len(sink.gates) == 3)
        sink.gates[1].set()
        await wait_until(lambda: len(sink.gates) == 4)
        for gate in sink.gates[2:]:
            gate.set()
        await runner.drain()

    asyncio.run(main())
    assert acks.order == [0, 1, 2, 3]


def test_the_next_batch_is_prepared_while_the_model_server_scores_this_one() -> None:
    primary, store, sink = SlowModel(delay=0.2), FakeFeatureStore(), RecordingSink()
    runner, acks = make_runner(primary, sink, store=store), Acks(sink)
    first, second = event_records(3), event_records(2)

    async def main() -> None:
        await runner.submit(to_messages(first), acks.of(0, first))
        await wait_until(lambda: primary.trace == [("start", "scorer:1")])
        second_done = asyncio.create_task(
            runner.submit(to_messages(second, offset=3), acks.of(1, second))
        )
        # The second batch's features are fetched while the first is at the model server…
        await wait_until(lambda: store.calls == 2)
        assert primary.trace == [("start", "scorer:1")]
        assert not second_done.done()  # …and it waits there until the first is scored
        await asyncio.wait_for(second_done, 1)
        await runner.drain()

    asyncio.run(main())
    assert primary.trace == [("start", "scorer:1"), ("end", "scorer:1")] * 2
    assert published_ids(sink.acked) == ids(first) + ids(second)
    assert acks.order == [0, 1]


def test_a_failed_publish_is_published_again_and_acknowledged_once_in_order() -> None:
    sink = RecordingSink(fail_next=1)
    runner, acks = make_runner(FixedModel(), sink), Acks(sink)
    first, second = event_records(3), event_records(2)

    async def main() -> None:
        await runner.submit(to_messages(first), acks.of(0, first))
        await runner.submit(to_messages(second, offset=3), acks.of(1, second))
        await runner.drain()

    asyncio.run(main())
    # batch 1 was published while batch 0 waited to be retried, yet acknowledged after it
    assert [published_ids(call) for call in sink.calls] == [ids(first), ids(second), ids(first)]
    assert acks.order == [0, 1]
    assert acks.early == []


def test_a_poison_event_is_dead_lettered_alone() -> None:
    marker = 13_131.0

    def poison(model: FixedModel, batch: np.ndarray) -> None:
        if model.calls == 2:  # the model server blips while isolating: hold, not dead-letter
            raise ModelUnavailableError(model.label, "blip")
        if (batch[:, 0] == marker).any():
            raise ValueError("poison row in this batch")

    primary, sink, metrics = FixedModel(on_predict=poison), RecordingSink(), Metrics()
    runner, acks = make_runner(primary, sink, metrics=metrics), Acks(sink)
    records = event_records(5)
    records[2]["amount"] = marker
    messages = to_messages(records, topic="events", partition=3, offset=40)

    async def main() -> None:
        await runner.submit(messages, acks.of(0, [r for r in records if r["amount"] != marker]))
        await runner.drain()

    asyncio.run(main())
    one, five = (1, N_FEATURES), (5, N_FEATURES)  # batch, 1-by-1 (blip: held), again, 1-by-1
    assert primary.shapes == [five, one, five] + [one] * 5
    assert published_ids(sink.acked) == ids(records[:2] + records[3:])
    dlq = sink.on(TOPICS.dlq)
    assert len(dlq) == 1
    topic, key, value, headers = dlq[0]
    assert (topic, key, value) == (TOPICS.dlq, messages[2].key, messages[2].value)
    assert headers == [
        ("error.class", b"ValueError"),
        ("error.reason", b"processing-error"),
        ("error.message", b"poison row in this batch"),
        ("source.topic", b"events"),
        ("source.partition", b"3"),
        ("source.offset", b"42"),
    ]
    assert (acks.order, acks.early) == ([0], [])
    assert metrics.registry.get_sample_value(
        "streamscore_dlq_total", {"reason": "processing-error"}
    ) == 1  # fmt: skip


def test_primary_down_holds_the_batch_until_it_is_back() -> None:
    primary, sink, metrics = FailingModel(), RecordingSink(), Metrics()
    runner, acks = make_runner(primary, sink, metrics=metrics), Acks(sink)
    records, after = event_records(4), event_records(2)

    async def main() -> None:
        # The first batch is prepared and handed to the model server; the next one is held
        # (prepared too) until the model server scored the first: the stream stops there.
        await runner.submit(to_messages(records), acks.of(0, records))
        held = asyncio.create_task(runner.submit(to_messages(after, offset=4), acks.of(1, after)))
        await wait_until(lambda: primary.failed >= 3)  # retried with backoff, more than once
        assert not held.done()
        assert (sink.calls, acks.order) == ([], [])
        primary.recover()
        await asyncio.wait_for(held, 1)
        await runner.drain()

    asyncio.run(main())
    assert primary.calls == primary.failed + 2
    # the same batch every time, then the one after it
    assert primary.shapes == [(4, N_FEATURES)] * (primary.failed + 1) + [(2, N_FEATURES)]
    assert published_ids(sink.acked) == ids(records) + ids(after)
    assert len(sink.calls) == 2
    assert (acks.order, acks.early) == ([0, 1], [])
    failures = metrics.registry.get_sample_value("streamscore_primary_failures_total")
    assert failures == primary.failed


def test_store_down_with_backpressure_holds_the_batch_until_it_is_back() -> None:
    store, primary, sink = FakeFeatureStore.sampled(["e0", "e1"]), FixedModel(), RecordingSink()
    store.down = True
    config = PipelineConfig(on_store_down="backpressure")
    runner, acks = make_runner(primary, sink, store=store, config=config), Acks(sink)
    records = event_records(3, entities=("e0", "e1"))

    async def main() -> None:
        held = asyncio.create_task(runner.submit(to_messages(records), acks.of(0, records)))
        await wait_until(lambda: store.calls >= 2)
        assert (primary.calls, sink.calls, acks.order) == (0, [], [])
        store.down = False
        await asyncio.wait_for(held, 1)
        await runner.drain()

    asyncio.run(main())
    predictions = decode_predictions(m[2] for m in sink.on(TOPICS.predictions))
    assert [p["features_missing"] for p in predictions] == [False] * 3
    assert acks.order == [0]


def test_stopping_while_held_gives_the_batch_up_unacknowledged() -> None:
    primary, sink, stopping = FailingModel(), RecordingSink(), asyncio.Event()
    runner = make_runner(primary, sink, should_stop=stopping.is_set)
    acks = Acks(sink)
    records = event_records(2)

    async def main() -> None:
        held = asyncio.create_task(runner.submit(to_messages(records), acks.of(0, records)))
        await wait_until(lambda: primary.failed >= 2)
        stopping.set()
        tries = primary.calls
        await asyncio.wait_for(held, 1)  # submit returns: the batch is given up
        await asyncio.wait_for(runner.drain(), 1)
        assert primary.calls == tries  # no try after the stop

    asyncio.run(main())
    assert (sink.calls, acks.order) == ([], [])


def test_drain_waits_for_every_batch_in_flight() -> None:
    sink = RecordingSink(hold_acks=True)
    runner, acks = make_runner(FixedModel(), sink), Acks(sink)
    batches = [event_records(2) for _ in range(3)]

    async def main() -> None:
        for i, records in enumerate(batches):
            await runner.submit(to_messages(records), acks.of(i, records))
        drained = asyncio.create_task(runner.drain())
        await wait_until(lambda: len(sink.gates) == 3)
        for gate in (2, 0):
            sink.gates[gate].set()
            await settle()
            assert not drained.done()
        assert acks.order == [0]
        sink.gates[1].set()
        await asyncio.wait_for(drained, 1)
        assert acks.order == [0, 1, 2]  # all done when drain returns

    asyncio.run(main())


def test_drain_while_stopping_still_waits_for_earlier_batches() -> None:
    """Stopping: batch 1's publish fails and is given up; batch 0 is still awaiting its
    acks. drain() (the engine's last step before closing the consumer) must wait for it."""
    sink, stopping = RecordingSink(hold_acks=True), asyncio.Event()
    runner = make_runner(FixedModel(), sink, should_stop=stopping.is_set)
    acks = Acks(sink)
    first, second = event_records(2), event_records(2)

    async def main() -> None:
        await runner.submit(to_messages(first), acks.of(0, first))
        await runner.submit(to_messages(second, offset=2), acks.of(1, second))
        await wait_until(lambda: len(sink.gates) == 2)
        stopping.set()
        sink.fail_next = 1
        sink.gates[1].set()  # batch 1: not acknowledged by the broker, and not retried
        drained = asyncio.create_task(runner.drain())
        await settle()
        early = drained.done()
        sink.gates[0].set()
        await asyncio.wait_for(drained, 1)
        assert not early, "drain() returned while batch 0 was still in flight"
        assert acks.order == [0]

    asyncio.run(main())


class RecordingTarget(LatencyTarget):
    def __init__(self) -> None:
        super().__init__(25.0, 512)
        self.seen: list[dict[str, Any]] = []

    def observe(self, **measured: Any) -> None:
        self.seen.append(measured)
        super().observe(**measured)


def test_the_latency_target_learns_from_every_acknowledged_batch() -> None:
    target, sink = RecordingTarget(), RecordingSink()
    pipeline = build_pipeline(FakeFeatureStore(), StaticRoutes(SlowModel(delay=0.02)), None)
    runner = BatchRunner(pipeline, sink, TOPICS, Metrics(), RunnerConfig(), target=target)
    now_ms = int(time.time() * 1000)
    first = event_records(3, t0_ms=now_ms - 100)  # 100, 99 and 98 ms old when taken
    second = event_records(2, t0_ms=now_ms)

    async def main() -> None:
        await runner.submit(to_messages(first), _noop, taken_at=time.monotonic(), capped=True)
        await runner.submit(to_messages(second, offset=3), _noop)
        await runner.drain()

    asyncio.run(main())
    assert [(s["size"], s["capped"]) for s in target.seen] == [(3, True), (2, False)]
    one = target.seen[0]
    assert one["scoring_s"] >= 0.02  # the model's 20 ms are part of scoring
    assert one["oldest_latency_s"] - one["newest_latency_s"] == pytest.approx(0.002, abs=1e-6)
    assert 0.1 <= one["oldest_latency_s"] < 1.0
    assert 0.09 <= one["oldest_age_s"] <= one["oldest_latency_s"] - one["scoring_s"] + 1e-3


async def _noop() -> None:
    return None

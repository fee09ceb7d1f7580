"""Rows 8 and 10 of the fault table (RELIABILITY.md): what producers write goes wrong.

Row 8: one record in a hundred is garbage, truncated, or names a writer schema nobody knows;
each must reach the dead-letter topic with exactly its cause, and every other event a
prediction. Row 10: producers on two versions of the event schema write side by side (the
workers read with v1 and know v2 from a writers folder); nothing may fail to decode.
(Row 8's throughput cost is measured in bench/, not here: `python -m bench.faults`.)
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from schemas.codec import AvroCodec
from tests.reliability.conftest import RATE, Scenario
from tests.support.kafka import EVENT_CODEC
from tests.support.samples import event_v2
from tests.support.waiting import metric


def test_row8_one_percent_bad_records_reach_the_dlq_with_exact_causes(scenario: Scenario) -> None:
    worker = scenario.worker()
    load = scenario.load(bad_every=100)
    load.send(4000, RATE)
    scenario.settle()
    outcome = scenario.verify(load)
    expected = Counter(i.bad for i in load.snapshot().values() if i.bad)
    print(f"[row 8 {scenario.engine}] {outcome}; expected {dict(expected)}")
    assert sum(expected.values()) == 40 and len(expected) == 3
    assert outcome.dlq == expected
    assert (outcome.lost, outcome.duplicates, outcome.both, outcome.wrong_dlq) == ([], 0, 0, 0)
    page = worker.metrics()
    for reason, n in expected.items():
        assert metric(page, f'streamscore_dlq_total{{reason="{reason}"}}') == n


def test_row10_producers_on_v1_and_v2_mixed_decode_without_an_error(
    scenario: Scenario, tmp_path: Path
) -> None:
    v2 = event_v2()
    (tmp_path / "event-v2.avsc").write_text(json.dumps(v2))
    worker = scenario.worker(registry={"writers_dir": str(tmp_path)})
    newer = AvroCodec(v2)
    assert newer.fingerprint != EVENT_CODEC.fingerprint
    load = scenario.load(writers=(EVENT_CODEC, newer))
    load.send(3000, RATE)
    scenario.settle()
    outcome = scenario.verify(load)
    print(f"[row 10 {scenario.engine}] {outcome}")
    assert (outcome.lost, outcome.duplicates, sum(outcome.dlq.values())) == ([], 0, 0), outcome
    assert len(outcome.predictions) == 3000
    assert metric(worker.metrics(), "streamscore_dlq_total") == 0

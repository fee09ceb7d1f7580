"""The demo's dashboard and the figures behind it, from constructed inputs (no services)."""

from __future__ import annotations

from rich.console import Console

from streams.demo.dashboard import render
from streams.demo.outputs import Latency, LatencyBook
from streams.demo.scrape import Page, rate
from streams.demo.watch import DriftRow, ModelRow, Snapshot, alert_line, result_line

PAGE = """\
# TYPE streamscore_dlq_total counter
streamscore_dlq_total{reason="bad-magic"} 1.0
streamscore_dlq_total{reason="truncated"} 2.0
# TYPE streamscore_consumer_lag gauge
streamscore_consumer_lag{topic="events",partition="0"} 3.0
streamscore_consumer_lag{topic="events",partition="1"} 4.0
streamscore_consumer_lag{topic="features",partition="0"} 100.0
"""


def snapshot() -> Snapshot:
    return Snapshot(
        elapsed_s=61.0, length_s=120.0, rate=1000.0, engine="librdkafka", drift_at_s=30.0,
        drift_feature="merchant_risk", sent=61_000, in_rate=998.0, out_rate=1001.0,
        predictions=60_950, recent=Latency(7.5, 31.25, 5000), run=Latency(8.0, 42.5, 60_950),
        worst_p99_ms=140.0, batch_mean=9.5, lag=12, dlq={"bad-magic": 1, "truncated": 1},
        psi_threshold=0.2, ks_threshold=0.1, windows_closed=11, alerts=4, requests=1,
        drift=[DriftRow("merchant_risk", 0.41, 0.27), DriftRow("amount", 0.01, 0.02)],
        models=[
            ModelRow("scorer:1", "primary"),
            ModelRow("scorer:2", "shadow", compared=60_000, disagree=600, delta=120.0),
            ModelRow("scorer:3", "shadow", new=True),
        ],
        retraining="training", retraining_for_s=4.0,
    )  # fmt: skip


def screen(snap: Snapshot) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(render(snap))
    return console.export_text()


def test_the_dashboard_shows_every_field_of_the_snapshot() -> None:
    text = screen(snapshot())
    for shown in (
        "998 / 1,001",  # events/s in / out
        "7.5 / 31.2 ms",  # p50 / p99 over the last 5 s
        "42.5 / 140.0 ms",  # the run's p99 and its worst 10 s
        "9.5",  # mean batch size
        "dead letters",
        "2 (bad-magic 1, truncated 1)",
        "60,950",
        "scorer:1",
        "decides",
        "99.0% same decision, |Δ score| 0.0020",  # 600 of 60,000 differ; 120 / 60,000
        "scorer:3 new",
        "no outputs yet",
        "merchant_risk",
        "0.410",
        "0.270",
        "thresholds: PSI 0.2, KS 0.1",
        "11 windows",
        "4 alerts",
        "training for 4 s",
        "61 / 120 s",
        "61,000 sent",
        "merchant_risk drifted",
    ):
        assert shown in text, f"{shown!r} not on the screen:\n{text}"


def test_the_columns_nearest_their_threshold_come_first() -> None:
    snap = snapshot()
    snap.drift = [DriftRow(f"f{i}", 0.01 * i, None) for i in range(10)]
    text = screen(snap)
    assert "f9" in text and "f4" in text  # the six highest
    assert "f3" not in text and "f0" not in text


def test_an_empty_start_reads_as_such() -> None:
    snap = Snapshot(0.0, 120.0, 1000.0, "librdkafka", 30.0, "merchant_risk", 0)
    text = screen(snap)
    assert "no window closed yet" in text and "routing not read yet" in text
    assert "drifts at 30 s" in text


def test_the_latency_book_keeps_seconds_and_the_worst_span() -> None:
    now = [1000.0]
    book = LatencyBook(clock=lambda: now[0])
    for second in range(20):
        now[0] = 1000.0 + second
        slow = 9 < second < 12  # two slow seconds
        for i in range(100):
            book.add(200.0 if slow and i < 20 else float(i % 10))
    recent = book.latency(last_s=5)
    assert recent is not None and recent.n == 600  # seconds 14..19 (1014 >= int(1019 - 5))
    assert recent.p99_ms == 9.0
    everything = book.latency(since=1000.0)
    assert everything is not None and everything.n == 2000
    worst = book.worst_p99(10, since=1000.0)
    assert worst == 200.0  # a span holding a slow second: 20 or more of 1,000 are 200 ms
    assert book.worst_p99(2, since=1012.0) == 9.0  # after the slow seconds
    assert book.latency(last_s=5, since=None) == recent


def test_a_metrics_page_sums_by_name_and_label() -> None:
    page = Page.parse(PAGE)
    assert page.total("streamscore_consumer_lag", topic="events") == 7.0
    assert page.total("streamscore_consumer_lag") == 107.0
    assert page.by("streamscore_dlq_total", "reason") == {"bad-magic": 1.0, "truncated": 2.0}
    assert page.total("streamscore_nothing") == 0.0
    assert Page().by("streamscore_dlq_total", "reason") == {}
    assert rate(110.0, 100.0, 2.0) == 5.0
    assert rate(3.0, 100.0, 2.0) == 0.0  # a restarted process's counter starts again


def test_steps_read_as_one_line_each() -> None:
    alert = {
        "feature": "merchant_risk", "detector": "psi", "statistic": 0.4123, "threshold": 0.2,
        "window_start": 1_790_000_000_000, "window_end": 1_790_000_005_000,
        "window_size": 5000, "model_name": "scorer", "model_version": "1",
    }  # fmt: skip
    assert alert_line(alert) == (
        "drift alert: merchant_risk psi 0.412 > 0.200 in the window 14:13:20-14:13:25 "
        "(5,000 events) of scorer:1"
    )
    metrics = {
        "candidate_auc": 0.81, "primary_auc": 0.8, "candidate_logloss": 0.41,
        "primary_logloss": 0.42, "rows": 40_000.0, "train_rows": 30_000.0,
    }  # fmt: skip
    accepted = {"outcome": "accepted", "model_name": "scorer", "new_version": "3",
                "metrics": metrics, "reasons": []}  # fmt: skip
    assert result_line(accepted) == (
        "scorer:3 passed the gate: AUC 0.810 against the primary's 0.800, log loss 0.4100 "
        "against 0.4200, on 10,000 held-out events"
    )
    rejected = {**accepted, "outcome": "rejected", "new_version": None,
                "reasons": ["too few labels", "no positives"]}  # fmt: skip
    assert result_line(rejected) == (
        "the candidate of scorer was rejected: too few labels; no positives"
    )

"""Split mode without Kafka: the arms' figures from known columns, the canary's verdict, and
the report's terminal summary and HTML page."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from sklearn.metrics import log_loss, roc_auc_score

from streams.report import arms
from streams.report.columns import Columns
from streams.report.html import render_html
from streams.report.pairs import Lookup
from streams.report.rule import PromotionRule
from streams.report.split_rule import recommend_split
from streams.report.split_views import summary

NAMES = ["approve", "review", "decline"]
POSITIVE = NAMES.index("decline")  # the fraud example's positive call
T0 = 1_790_000_000_000


def columns(keys: np.ndarray, scores: np.ndarray) -> Columns:
    n = len(keys)
    decision = (scores >= 0.3).astype(np.int8) + (scores >= 0.7)
    return Columns(
        key=keys.astype(np.uint64), model=np.zeros(n, np.int16), score=scores,
        decision=decision.astype(np.int8), missing=np.zeros(n, bool),
        event_time=np.full(n, T0, np.int64), scored_at=np.full(n, T0 + 5, np.int64),
        infer_ms=np.full(n, 2.0, np.float32), partition=np.zeros(n, np.int16),
        role=np.zeros(n, np.int8), stale=np.zeros(n, bool),
    )  # fmt: skip


def arm_data(rng: np.random.Generator, n: int, noise: float, first_key: int) -> dict[str, Any]:
    """An arm's events: labels drawn from a true probability, scores that see it through
    ``noise`` (on the logit scale), every other event labelled."""
    truth = rng.beta(1.0, 3.0, n)
    logit = np.log(truth / (1 - truth)) + rng.normal(0, noise, n)
    scores = 1 / (1 + np.exp(-logit))
    labels = (rng.random(n) < truth).astype(np.int8)
    keys = np.arange(first_key, first_key + n, dtype=np.uint64)
    return {"keys": keys, "scores": scores, "labels": labels, "labelled": keys % 2 == 0}


def split_report(canary_noise: float, n: int = 6000, seed: int = 0) -> tuple[dict, dict]:
    """A split report's dict from real ArmStores (fed in chunks, with one redelivered copy
    per arm), and the arms' data."""
    rng = np.random.default_rng(seed)
    data = {"primary": arm_data(rng, n, 1.0, 0), "canary": arm_data(rng, n // 3, canary_noise, n)}
    lookup_keys = np.concatenate([d["keys"][d["labelled"]] for d in data.values()])
    lookup_labels = np.concatenate([d["labels"][d["labelled"]] for d in data.values()])
    labels = Lookup.build(lookup_keys, lookup_labels, -1)
    stores = {name: arms.ArmStore(name, labels) for name in arms.ARMS}
    for name, d in data.items():
        cols = columns(d["keys"], d["scores"])
        for at in range(0, len(cols), 1000):
            stores[name].add(cols.take(np.arange(at, min(at + 1000, len(cols)))))
        stores[name].add(cols.take(np.array([0])))  # at-least-once: a copy read twice
        stores[name].ref = f"scorer:{1 if name == 'primary' else 2}"
    report: dict[str, Any] = {
        "version": 1, "mode": "split", "generated_at": "2026-09-21T12:00:00Z",
        "range": {"from": "2026-09-21T00:00:00Z", "to": "2026-09-22T00:00:00Z"},
        "primary": "scorer:1", "canary": "scorer:2",
        "topics": {"predictions": "predictions", "labels": "labels"},
        "coverage": {"records": 0, "out_of_range": 0, "undecodable": {"predictions": 0},
                     "other_models": {}, "other_roles": {}},
    }  # fmt: skip
    report |= arms.figures(stores, NAMES, POSITIVE)
    rec = recommend_split(report, PromotionRule())
    report["recommendation"] = {"verdict": rec.verdict, "line": rec.line,
                                "reasons": rec.reasons, "thresholds": rec.thresholds}  # fmt: skip
    return report, data


def test_arm_figures_are_those_of_each_arms_own_events() -> None:
    report, data = split_report(canary_noise=0.3)
    for name, d in data.items():
        arm = report["arms"][name]
        n = len(d["keys"])
        assert (arm["events"], arm["duplicates"]) == (n, 1)
        decline = d["scores"] >= 0.7
        assert arm["decisions"]["decline"] == int(decline.sum())
        assert arm["positive_call"] == "decline"
        assert arm["positive_rate"] == decline.mean()
        lo, hi = arm["positive_rate_ci"]
        assert lo < arm["positive_rate"] < hi
        known = d["labelled"]
        y, s = d["labels"][known], d["scores"][known]
        assert (arm["labelled"], arm["positives"]) == (int(known.sum()), int(y.sum()))
        assert arm["error_rate"] == np.mean(decline[known] != (y == 1))
        assert arm["auc"] == pytest.approx(roc_auc_score(y, s), rel=1e-12)
        assert arm["logloss"] == pytest.approx(log_loss(y, np.clip(s, 1e-7, 1 - 1e-7)), rel=1e-9)
        at_decline = arm["at_decisions"][1]
        assert at_decline["decision"] == "decline"
        assert at_decline["precision"] == np.mean(y[decline[known]] == 1)
        assert at_decline["recall"] == np.mean(decline[known][y == 1])
        assert arm["latency"]["infer_ms"]["n"] == n + 1  # latency counts every record read
    tests = report["tests"]
    assert tests["auc"]["delta"] == pytest.approx(
        report["arms"]["canary"]["auc"] - report["arms"]["primary"]["auc"], rel=1e-12
    )
    assert tests["positive_rate"]["n1"] == len(data["primary"]["keys"])
    json.dumps(report, allow_nan=False)  # report.json as written


def test_a_clearly_better_canary_is_promoted() -> None:
    report, _ = split_report(canary_noise=0.2)
    assert report["recommendation"]["verdict"] == "promote", report["recommendation"]["line"]
    assert report["tests"]["auc"]["ci"][0] > 0 and report["tests"]["logloss"]["ci"][1] < 0


def test_a_clearly_worse_canary_is_rolled_back() -> None:
    report, _ = split_report(canary_noise=3.0)
    line = report["recommendation"]["line"]
    assert report["recommendation"]["verdict"] == "rollback", line
    assert line.startswith("rollback canary scorer:2: ") and "AUC is worse" in line


def test_too_few_labels_keep_the_canary_and_say_why() -> None:
    report, _ = split_report(canary_noise=0.2, n=900)
    rec = report["recommendation"]
    assert rec["verdict"] == "keep"
    assert "the canary arm has 150 labelled events" in rec["line"]
    assert "the rule needs 500 with both outcomes" in rec["line"]


def test_a_canary_far_slower_than_the_primary_is_rolled_back() -> None:
    report, _ = split_report(canary_noise=0.2)
    latency = report["arms"]["canary"]["latency"]["infer_ms"]
    latency["p99"] = 10 * report["arms"]["primary"]["latency"]["infer_ms"]["p99"]
    rec = recommend_split(report, PromotionRule())
    assert rec.verdict == "rollback" and "p99 model time" in rec.line


def test_the_terminal_summary_and_the_page_show_both_arms() -> None:
    report, _ = split_report(canary_noise=0.2)
    console = Console(width=200, record=True)
    console.print(summary(report))
    shown = console.export_text()
    assert "split report  scorer:1 (primary arm) vs scorer:2 (canary arm)" in shown
    assert report["recommendation"]["line"] in " ".join(shown.split())  # wrapped
    page = render_html(report)
    assert "Canary A/B split" in page and "<h2>Arms</h2>" in page
    assert '<section class="banner promote"' in page
    assert "unpaired, DeLong variances" in page and "two-proportion z test" in page
    assert f"{report['arms']['canary']['events']:,}" in page

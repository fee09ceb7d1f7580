"""streams/report/rule.py: recommend() over minimal report dicts holding only the keys the
rule reads: promote, keep shadowing or reject, and the line that says why."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from streams.report.rule import KEEP, PROMOTE, REJECT, PromotionRule, recommend

PRIMARY, SHADOW = "scorer:1", "scorer:2"


def report(**changes: Any) -> dict[str, Any]:
    """A shadow that passes every check of the default rule; ``changes`` are dotted paths."""
    r: dict[str, Any] = {
        "primary": PRIMARY,
        "shadow": SHADOW,
        "coverage": {"joined": 20_000, "shadow_coverage": 0.998},
        "latency": {"models": {PRIMARY: {"infer_ms": {"p99": 10.0}},
                               SHADOW: {"infer_ms": {"p99": 12.0}}}},
        "labels": {
            "n": 5000,
            "positives": 400,
            "models": {
                "primary": {"logloss": 0.2500, "auc": 0.9000, "ece": 0.0200},
                "shadow": {"logloss": 0.2490, "auc": 0.9010, "ece": 0.0150},
            },
            "tests": {"logloss": {"ci": [-0.0040, 0.0020]}, "auc": {"ci": [-0.0030, 0.0050]}},
        },
    }  # fmt: skip
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = r
        for key in parents:
            node = node[key]
        node[last] = value
    return r


def test_a_non_inferior_calibrated_shadow_is_promoted() -> None:
    rec = recommend(report(), PromotionRule())
    assert rec.verdict == PROMOTE
    assert rec.line.startswith(f"{PROMOTE} {SHADOW}: ")
    for number in ("0.2490", "0.2500", "0.9010", "0.9000", "0.0150", "5,000", "+0.0020"):
        assert number in rec.line
    assert rec.reasons and all(r in rec.line for r in rec.reasons)
    assert rec.thresholds == PromotionRule().model_dump()


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"coverage__joined": 999}, ["999", "1,000"]),
        ({"coverage__shadow_coverage": 0.95}, ["95.00%", "99.00%"]),
        ({"labels": None}, ["0 labelled pairs", "500"]),
        ({"labels__n": 499, "labels__positives": 100}, ["499", "500"]),
        ({"labels__positives": 0}, ["5,000 labelled pairs (0 positive)"]),
        ({"labels__positives": 5000}, ["(5,000 positive)"]),
        ({"labels__tests__logloss__ci": [-0.002, 0.015]}, ["log loss not yet", "+0.0150"]),
        ({"labels__tests__logloss__ci": None}, ["log loss not yet", "n/a"]),
        ({"labels__tests__auc__ci": [-0.015, 0.002]}, ["AUC not yet", "-0.0150"]),
        ({"labels__tests__auc__ci": None}, ["AUC not yet"]),
    ],
)
def test_not_enough_evidence_keeps_shadowing(changes: dict[str, Any], words: list[str]) -> None:
    rec = recommend(report(**changes), PromotionRule())
    assert rec.verdict == KEEP
    assert rec.line.startswith(f"{KEEP} {SHADOW}: ")
    for w in words:
        assert w in rec.line
    assert len(rec.reasons) == 1


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"labels__tests__logloss__ci": [0.011, 0.03]}, ["log loss is worse", "+0.0110"]),
        ({"labels__tests__auc__ci": [-0.05, -0.0101]}, ["AUC is worse", "-0.0101"]),
        ({"labels__models__shadow__ece": 0.0501}, ["miscalibrated", "0.0501", "limit 0.05"]),
        ({"labels__models__shadow__ece": None}, ["miscalibrated", "ECE n/a"]),
        ({"latency__models__scorer:2__infer_ms__p99": 45.0}, ["45 ms", "4.5x", "limit 3x"]),
    ],
)
def test_a_shadow_worse_beyond_the_limits_is_rejected(
    changes: dict[str, Any], words: list[str]
) -> None:
    rec = recommend(report(**changes), PromotionRule())
    assert rec.verdict == REJECT
    assert rec.line.startswith(f"{REJECT} {SHADOW}: ")
    for w in words:
        assert w in rec.line


def test_thresholds_sit_on_the_boundary_as_documented() -> None:
    rule = PromotionRule()
    at_limits = report(**{
        "coverage__joined": rule.min_pairs,
        "coverage__shadow_coverage": rule.min_coverage,
        "labels__n": rule.min_labels,
        "labels__tests__logloss__ci": [0.0, rule.logloss_margin],
        "labels__tests__auc__ci": [-rule.auc_margin, 0.0],
        "labels__models__shadow__ece": rule.max_ece,
        "latency__models__scorer:2__infer_ms__p99": 10.0 * rule.max_latency_ratio,
    })  # fmt: skip
    assert recommend(at_limits, rule).verdict == PROMOTE


def test_latency_is_only_judged_when_both_models_have_it() -> None:
    no_primary = report(**{"latency__models": {SHADOW: {"infer_ms": {"p99": 500.0}}}})
    assert recommend(no_primary, PromotionRule()).verdict == PROMOTE
    assert recommend(report(latency={}), PromotionRule()).verdict == PROMOTE


def test_reject_wins_over_keep() -> None:
    r = report(**{"coverage__joined": 10, "labels__models__shadow__ece": 0.2})
    rec = recommend(r, PromotionRule())
    assert rec.verdict == REJECT
    assert "miscalibrated" in rec.line and "joined pairs" not in rec.line
    r = report(**{"coverage__shadow_coverage": 0.5,
                  "labels__tests__auc__ci": [-0.04, -0.02],
                  "labels__tests__logloss__ci": [0.02, 0.04]})  # fmt: skip
    rec = recommend(r, PromotionRule())
    assert rec.verdict == REJECT and len(rec.reasons) == 2


def test_every_keep_reason_is_listed() -> None:
    r = report(**{"coverage__joined": 10, "coverage__shadow_coverage": 0.5, "labels": None})
    rec = recommend(r, PromotionRule())
    assert rec.verdict == KEEP and len(rec.reasons) == 3
    assert rec.line == f"{KEEP} {SHADOW}: " + "; ".join(rec.reasons)


def test_thresholds_come_from_the_settings() -> None:
    few = report(**{"coverage__joined": 50})
    assert recommend(few, PromotionRule()).verdict == KEEP
    rec = recommend(few, PromotionRule(min_pairs=10))
    assert rec.verdict == PROMOTE and rec.thresholds["min_pairs"] == 10
    slow = report(**{"latency__models__scorer:2__infer_ms__p99": 25.0})
    assert recommend(slow, PromotionRule()).verdict == PROMOTE
    assert recommend(slow, PromotionRule(max_latency_ratio=2.0)).verdict == REJECT
    wide = report(**{"labels__tests__logloss__ci": [-0.01, 0.015]})
    assert recommend(wide, PromotionRule()).verdict == KEEP
    assert recommend(wide, PromotionRule(logloss_margin=0.02)).verdict == PROMOTE
    assert recommend(report(), PromotionRule(max_ece=0.01)).verdict == REJECT
    assert recommend(report(), PromotionRule(min_labels=6000)).verdict == KEEP


def test_the_report_is_not_modified() -> None:
    r = report()
    before = copy.deepcopy(r)
    recommend(r, PromotionRule())
    assert r == before

"""`streamscore report shadow` on the real Kafka, with outputs whose figures are known:
the shadow equals the primary plus 1/8 on the "smb" segment and equals it elsewhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score
from typer.testing import CliRunner

from infra.kafka_server import KafkaServer
from streams.cli import cli
from streams.topics import TopicNames
from tests.support.browser import PLOTS, plots_in, render
from tests.support.kafka import create_topics, produce
from tests.support.shadow import OFFSET_SEGMENT, SEGMENTS, Truth, write_pairs

T0 = 1_790_000_000_000  # 2026-09-21: event times of the written outputs, 1 ms apart
runner = CliRunner()


def topic_env(topics: TopicNames) -> dict[str, str]:
    return {f"STREAMSCORE_TOPIC_{role.upper()}": name for role, name in topics}


def report(kafka: KafkaServer, topics: TopicNames, out: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        cli,
        ["report", "shadow", "--bootstrap", kafka.config.kafka_bootstrap, "--out", str(out),
         *args],
        env=topic_env(topics),
    )  # fmt: skip
    return result.exit_code, result.output


def window() -> list[str]:
    """The two days around T0; lateness 0: nothing later is waited for."""
    return ["--from", "2026-09-21T00:00:00Z", "--to", "2026-09-23T00:00:00Z", "--lateness", "0"]


@pytest.fixture
def written(kafka: KafkaServer, topic_prefix: str) -> tuple[TopicNames, Truth]:
    topics = TopicNames().prefixed(topic_prefix)
    create_topics(kafka.config.kafka_bootstrap, topics)
    truth = write_pairs(kafka.config.kafka_bootstrap, topics, 4000, T0, label_share=0.5)
    return topics, truth


def test_known_disagreement_on_one_segment_is_reported_exactly(
    kafka: KafkaServer, written: tuple[TopicNames, Truth], tmp_path: Path
) -> None:
    topics, truth = written
    code, output = report(kafka, topics, tmp_path, *window(), "--segment", "segment")
    assert code == 0, output
    r: dict[str, Any] = json.loads((tmp_path / "report.json").read_text())
    assert (r["primary"], r["shadow"]) == ("scorer:1", "scorer:2")
    cov = r["coverage"]
    assert (cov["joined"], cov["primary_only"], cov["shadow_only"]) == (4000, 0, 0)
    p_dec, s_dec = truth.decisions(truth.primary), truth.decisions(truth.shadow)
    flips = np.zeros((3, 3), dtype=int)
    np.add.at(flips, (p_dec, s_dec), 1)
    assert r["decisions"]["flips"] == flips.tolist()
    assert r["decisions"]["agree"] == int(np.sum(p_dec == s_dec))
    delta = truth.shadow - truth.primary
    assert r["scores"]["delta"]["mean"] == np.mean(delta)  # sums of 1/8: exact in any order
    assert r["scores"]["delta"]["max"] == 0.125 and r["scores"]["delta"]["min"] == 0.0
    (by_segment,) = r["segments"]
    rows = {row["value"]: row for row in by_segment["rows"]}
    assert set(rows) == set(SEGMENTS)
    for name, row in rows.items():
        mask = truth.segment == name
        expected = 0.125 if name == OFFSET_SEGMENT else 0.0
        assert row["n"] == int(mask.sum())
        assert row["mean_delta"] == row["p05_delta"] == row["p95_delta"] == expected
        assert row["agreement"] == np.mean(p_dec[mask] == s_dec[mask])
    assert rows["retail"]["spearman"] == 1.0
    assert "shadow report" in output and r["recommendation"]["verdict"] in output
    # the page of this real report, in a real browser: no console message, every plot drawn
    page = render(tmp_path / "report.html", tmp_path / "report.png", window=(1400, 6000))
    assert page.console == [], page.console
    assert 'data-ready="1"' in page.dom
    assert set(plots_in(page.dom)) == PLOTS


def test_label_metrics_match_scikit_learn_on_the_same_pairs(
    kafka: KafkaServer, written: tuple[TopicNames, Truth], tmp_path: Path
) -> None:
    topics, truth = written
    code, output = report(kafka, topics, tmp_path, *window())
    assert code == 0, output
    labels = json.loads((tmp_path / "report.json").read_text())["labels"]
    known = truth.labels >= 0
    y = truth.labels[known]
    assert labels["n"] == int(known.sum()) and labels["positives"] == int(y.sum())
    for role, scores in (("primary", truth.primary), ("shadow", truth.shadow)):
        model = labels["models"][role]
        p = np.clip(scores[known], 1e-7, 1 - 1e-7)
        assert model["logloss"] == pytest.approx(log_loss(y, p), rel=1e-12)
        assert model["auc"] == pytest.approx(roc_auc_score(y, scores[known]), rel=1e-12)
        bins = np.minimum((scores[known] * 10).astype(int), 9)
        ece = sum(
            abs(scores[known][bins == b].sum() - y[bins == b].sum()) for b in range(10)
        ) / len(y)
        assert model["ece"] == pytest.approx(ece, rel=1e-9)
    # the shadow adds 1/8 to a third of the scores while labels follow the primary: worse
    assert labels["tests"]["logloss"]["delta"] > 0


def test_undecodable_records_are_counted_not_fatal(
    kafka: KafkaServer, written: tuple[TopicNames, Truth], tmp_path: Path
) -> None:
    topics, _ = written
    produce(kafka.config.kafka_bootstrap, topics.predictions, [(b"x", b"\xc3\x01not-a-prediction")])
    code, output = report(kafka, topics, tmp_path, *window())
    assert code == 0, output
    coverage = json.loads((tmp_path / "report.json").read_text())["coverage"]
    assert coverage["undecodable"]["primary"] == 1
    assert coverage["joined"] == 4000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z"], "no primary outputs"),
        ([*window(), "--shadow", "ghost:3"], "no shadow outputs of ghost:3"),
        ([*window(), "--primary", "ghost"], "no primary outputs of ghost"),
        (["--since", "ten minutes"], "not a duration"),
        (["--from", "2026-09-22T00:00:00Z", "--to", "2026-09-21T00:00:00Z"], "range is empty"),
        ([*window(), "--segment", "colour"], "no such field"),
    ],
)
def test_what_cannot_be_reported_gets_one_line_and_exit_1(
    kafka: KafkaServer, written: tuple[TopicNames, Truth], tmp_path: Path,
    args: list[str], message: str,
) -> None:  # fmt: skip
    topics, _ = written
    code, output = report(kafka, topics, tmp_path / "out", *args)
    assert code == 1, output
    assert message in output, output
    assert "Traceback" not in output
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_range_without_shadow_outputs_says_so(
    kafka: KafkaServer, topic_prefix: str, tmp_path: Path
) -> None:
    topics = TopicNames().prefixed(topic_prefix)
    create_topics(kafka.config.kafka_bootstrap, topics)
    no_shadow = topics.model_copy(update={"shadow": f"{topic_prefix}.empty"})
    create_topics(kafka.config.kafka_bootstrap, no_shadow)
    write_pairs(kafka.config.kafka_bootstrap, topics, 200, T0)
    code, output = report(kafka, no_shadow, tmp_path, *window())
    assert code == 1, output
    assert "no shadow outputs between" in output and f"{topic_prefix}.empty" in output

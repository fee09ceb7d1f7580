"""The alerting rules (infra/prometheus/alerts.yml): well formed, wired into Prometheus,
reading only metrics the code exports, and right by Prometheus's own checker.

promtool comes from the project's installer (infra/promtool.py, `python -m infra install
--tests`); the test asks the installer for it, so it runs wherever the installer can.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.promtool import ensure_promtool
from infra.settings import ServicesSettings
from tests.infra.test_dashboard import series_of_the_code
from tests.support.dashboard import metrics_and_groupings

PROMETHEUS = Path(__file__).resolve().parents[2] / "infra" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
# Vector matching names labels, not metrics: strip it before reading the metric names.
MATCHING = re.compile(r"\b(?:on|ignoring|group_left|group_right)\s*\([^)]*\)")


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_rule_is_complete() -> None:
    found = rules()
    assert len(found) >= 8
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names)), "an alert name is used twice"
    for rule in found:
        assert rule["expr"].strip(), rule["alert"]
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        if not rule["alert"].endswith("RolledBack"):  # an event, not a state to wait out
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_every_rule_reads_only_metrics_the_code_exports() -> None:
    code = series_of_the_code()
    read = set()
    for rule in rules():
        names, grouped = metrics_and_groupings(MATCHING.sub(" ", rule["expr"]))
        assert names, f"{rule['alert']} reads no metric"
        assert names <= set(code), f"{rule['alert']}: exported by no one: {names - set(code)}"
        for name in names:
            assert grouped <= code[name] | {"le"}, f"{rule['alert']} groups by {grouped}"
        read |= names
    wanted = {
        "streamscore_quality_auc", "streamscore_quality_logloss",
        "streamscore_quality_error_rate", "streamscore_end_to_end_seconds_bucket",
        "streamscore_dlq_total", "streamscore_consumer_lag",
    }  # fmt: skip
    assert wanted <= read


def test_prometheus_loads_the_rules_and_scrapes_the_guard() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    compose = yaml.safe_load((PROMETHEUS.parents[1] / "docker-compose.yml").read_text())
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./infra/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    targets = {
        t for job in config["scrape_configs"] for s in job["static_configs"] for t in s["targets"]
    }
    assert "guard:9103" in targets


@pytest.fixture(scope="module")
def promtool() -> Path:
    return ensure_promtool(ServicesSettings().cache_dir)


def test_promtool_checks_the_rules(promtool: Path) -> None:
    result = subprocess.run(
        [str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_runs_the_rule_unit_tests(promtool: Path) -> None:
    result = subprocess.run(
        [str(promtool), "test", "rules", "alerts.test.yml"],
        cwd=PROMETHEUS, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_fails_a_broken_rule(promtool: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("> 50000", "> > 50000", 1))
    result = subprocess.run(
        [str(promtool), "check", "rules", str(broken)], capture_output=True, text=True
    )
    assert result.returncode != 0

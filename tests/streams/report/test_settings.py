"""The report's own settings (the promotion rule): documented in docs/report.md with their
defaults, and no variable that a scoring worker reads for something else."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.report.settings import ReportSettings
from streams.worker.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[3]
WORKER = dict(WorkerSettings.variables())
OWN = {name: f for name, f in ReportSettings.variables() if name not in WORKER}


def test_the_rule_has_variables_of_its_own() -> None:
    assert sorted(OWN) == sorted(
        f"STREAMSCORE_PROMOTION_{n.upper()}"
        for n in ("min_pairs", "min_coverage", "min_labels", "logloss_margin", "auc_margin",
                  "max_ece", "max_latency_ratio")
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(OWN))
def test_docs_report_lists_every_variable_with_its_default(name: str) -> None:
    rows = [line for line in (REPO / "docs" / "report.md").read_text().splitlines()
            if f"| `{name}` |" in line]  # fmt: skip
    assert rows, f"docs/report.md has no row for {name}"
    assert OWN[name].description and OWN[name].description in rows[0]
    assert f"| {OWN[name].default} |" in rows[0], f"docs/report.md: {name} {OWN[name].default}"


def test_shared_variables_mean_what_they_mean_to_a_worker() -> None:
    for name, field in ReportSettings.variables():
        if name in WORKER:
            assert WORKER[name].default == field.default, name

"""The demo's stream follows the project (no services): the field it drifts, by how much, and
a project with nothing to drift refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.project import load_project
from streams.demo.run import DemoPlan
from streams.demo.traffic import DemoError, drift_field, traffic_args
from tests.support.projects import FRAUD, derived, example


def drift_options(args: list[str]) -> dict[str, str]:
    return {k: args[args.index(k) + 1] for k in args if k.startswith("--drift-")}


def test_the_fraud_demo_drifts_merchant_risk_by_one_sigma() -> None:
    assert drift_field(FRAUD) == ("merchant_risk", "sigma", 1.0)
    plan = DemoPlan(rate=500.0, drift_at_s=12.0)
    args = traffic_args(plan, 9000, FRAUD)
    assert args[:5] == ["simulate", "--rate", "500", "--count", "9000"]
    assert drift_options(args) == {
        "--drift-at": "6000", "--drift-feature": "merchant_risk", "--drift-unit": "sigma",
        "--drift-magnitude": "1",
    }  # fmt: skip


def test_another_project_drifts_its_own_field() -> None:
    delivery = example("delivery")
    assert drift_field(delivery) == ("distance_km", "sigma", 1.0)
    assert drift_options(traffic_args(DemoPlan(), 1000, delivery))["--drift-feature"] == (
        "distance_km"
    )


def test_the_drift_comes_from_the_project_file(tmp_path: Path) -> None:
    drift = {"field": "amount", "unit": "risk", "magnitude": 2.5}
    changed = load_project(derived("fraud", tmp_path, {"simulation": {"drift": drift}}))
    assert drift_options(traffic_args(DemoPlan(), 1000, changed)) == {
        "--drift-at": "30000", "--drift-feature": "amount", "--drift-unit": "risk",
        "--drift-magnitude": "2.5",
    }  # fmt: skip


def test_a_project_without_a_drift_is_refused(tmp_path: Path) -> None:
    still = load_project(derived("fraud", tmp_path, {"simulation": {"drift": None}}, "steady"))
    with pytest.raises(DemoError, match=r"project steady has no simulation\.drift"):
        traffic_args(DemoPlan(), 1000, still)

"""Every features test runs over each example project (tests/support/deployed.py)."""

from __future__ import annotations

from tests.support.deployed import deployed, project, served

__all__ = ["deployed", "project", "served"]

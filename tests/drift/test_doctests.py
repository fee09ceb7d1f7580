"""The examples in the drift modules' docstrings run (pytest here has no --doctest-modules)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["drift.stats", "drift.psi", "drift.ks", "drift.policy", "drift.labels"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

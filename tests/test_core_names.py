"""The core names no use case: the fraud example lives in examples/fraud, nowhere else.

Outside examples/ (and the tests), no fraud field name and none of its decisions may appear
in streams/, drift/, inference/ or schemas/: a team bringing its own events reads a core that
speaks only of projects, inputs and deciders. The names come from the fraud project itself
(its event fields and features), so a field added to the example is watched too.

Two exemptions, both checked to stay narrow: ``segment`` is also the core's name for what a
report or a gate slices by (the project names which field that is), and ``items`` is Python's
``dict.items``; and schemas/released/ holds the schemas as they shipped (their docs are part
of that record, and no code reads them for meaning).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.projects import FRAUD

ROOT = Path(__file__).resolve().parent.parent
CORE = ("streams", "drift", "inference", "schemas")
DECISIONS = FRAUD.decider(FRAUD.default_model.name).names
SUFFIXES = {".py", ".avsc", ".json", ".jsonl", ".yaml", ".yml", ".pbtxt"}


def _fraud_names() -> set[str]:
    spec = FRAUD.spec.events
    own = {spec.id, spec.entity, spec.time}
    fields = {f["name"] for f in FRAUD.event_schema["fields"]} - own
    return (fields | set(FRAUD.feature_names)) - {"segment", "items"}


def _files() -> list[Path]:
    out = []
    for package in CORE:
        for path in (ROOT / package).rglob("*"):
            if path.suffix in SUFFIXES and "released" not in path.parts and path.is_file():
                out.append(path)
    return sorted(out)


def test_no_fraud_field_or_decision_is_named_in_the_core() -> None:
    names = sorted(_fraud_names())
    words = [*names, *DECISIONS]
    # A name, not part of a longer identifier, and not an attribute (``.items``-like).
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, words)) + r")(?!\w)", re.I)
    hits = []
    for path in _files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in pattern.finditer(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {match[0]}")
    assert not hits, "the core names the fraud use case:\n" + "\n".join(hits)


def test_the_watch_list_is_the_fraud_use_case() -> None:
    names = _fraud_names()
    assert {"merchant_risk", "amount", "avg_amount_30d", "chargeback_rate_90d"} <= names
    assert DECISIONS == ("approve", "review", "decline")
    assert len(_files()) > 100  # the core was read, not an empty tree

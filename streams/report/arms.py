"""Split mode's two arms: what each keeps while the predictions topic streams past, and its
figures (docs/report.md, "Split mode (canary A/B)").

An arm is the events one model decided: role ``primary`` or role ``canary`` on the
predictions topic. Every record keeps 9 bytes (its event_id hash, to find redelivered
copies, and its decision code); a labelled one 18 more (hash, score, decision, label), for
the label figures. Latencies go into the shadow report's log-spaced histograms. The decision
taken is what is compared, not a threshold on the score: it is what happened to the event.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inference.gate import calibration_error
from streams.report.columns import Columns
from streams.report.compute import _latency
from streams.report.pairs import LATENCY_EDGES, NO_LABEL, Lookup, _Growing
from streams.report.significance import logloss_ci
from streams.report.stats import finite_or_none, wilson
from streams.report.unpaired import (
    auc_difference,
    auc_variance,
    logloss_arms,
    two_proportions,
)

ARMS = ("primary", "canary")


class ArmStore:
    """One arm's records, fed a chunk at a time (only rows of this arm's role and model)."""

    def __init__(self, name: str, labels: Lookup | None) -> None:
        self.name = name
        self.labels = labels
        self.ref: str | None = None  # NAME:VERSION, chosen from the first chunk with the role
        self.model: int | None = None  # its code in the models vocabulary
        self.keys, self.decisions = _Growing(np.uint64), _Growing(np.int8)
        self.labelled = {
            "key": _Growing(np.uint64), "score": _Growing(np.float64),
            "decision": _Growing(np.int8), "label": _Growing(np.int8),
        }  # fmt: skip
        self.latency = np.zeros(len(LATENCY_EDGES) - 1, np.int64)
        self.latency_sum = self.latency_max = 0.0

    def add(self, cols: Columns) -> None:
        if not len(cols):
            return
        self.keys.add(cols.key)
        self.decisions.add(cols.decision)
        label = self.labels.get(cols.key) if self.labels else np.full(len(cols), NO_LABEL)
        known = np.flatnonzero(label != NO_LABEL)
        for name, values in (("key", cols.key), ("score", cols.score),
                             ("decision", cols.decision), ("label", label)):  # fmt: skip
            self.labelled[name].add(values[known])
        index = np.searchsorted(LATENCY_EDGES, cols.infer_ms, "right") - 1
        index = np.clip(index, 0, len(LATENCY_EDGES) - 2)
        self.latency += np.bincount(index, minlength=len(LATENCY_EDGES) - 1)
        self.latency_sum += float(np.sum(cols.infer_ms, dtype=np.float64))
        self.latency_max = max(self.latency_max, float(np.max(cols.infer_ms)))

    def __len__(self) -> int:
        return len(self.keys)

    def unique(self) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
        """Each event once (a redelivered copy is left out): every record's decision, the
        labelled records' columns, and how many copies were left out."""
        keys = self.keys.array()
        _, first = np.unique(keys, return_index=True)
        decisions = self.decisions.array()[np.sort(first)]
        _, first_labelled = np.unique(self.labelled["key"].array(), return_index=True)
        keep = np.sort(first_labelled)
        labelled = {name: column.array()[keep] for name, column in self.labelled.items()}
        return decisions, labelled, len(keys) - len(first)


def flags(names: list[str], positive: int | None) -> list[tuple[str, int]]:
    """(label, lowest index) of each call the decisions make: ``names[k]`` or any later one,
    for each decision from the second up to the positive one: with decisions pass, check
    and block (block positive), "check or block" and "block"."""
    last = len(names) - 1 if positive is None else positive
    return [(" or ".join(names[k : last + 1]), k) for k in range(1, last + 1)]


def arm_figures(
    store: ArmStore, names: list[str], positive_call: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arm's figures for report.json, and the arrays the tests between arms need;
    ``positive_call`` is the index of the decision that calls an event positive."""
    decisions, labelled, duplicates = store.unique()
    events = len(decisions)
    counts = np.bincount(decisions.astype(np.int64), minlength=len(names))
    call = positive_call if positive_call is not None else len(names) - 1
    called = int(counts[call]) if 0 <= call < len(counts) else 0
    y, scores = labelled["label"].astype(np.float64), labelled["score"]
    positive = y == 1
    errors = int(np.count_nonzero((labelled["decision"] == call) != positive))
    at = []
    for flag, lowest in flags(names, call):
        flagged = (labelled["decision"] >= lowest) & (labelled["decision"] <= call)
        hits = int(np.count_nonzero(flagged & positive))
        n_flagged, n_positive = int(np.count_nonzero(flagged)), int(positive.sum())
        at.append({
            "decision": flag, "flagged": n_flagged,
            "precision": hits / n_flagged if n_flagged else None,
            "precision_ci": _ci(hits, n_flagged),
            "recall": hits / n_positive if n_positive else None,
            "recall_ci": _ci(hits, n_positive),
        })  # fmt: skip
    auc, _ = auc_variance(y, scores)
    loss = logloss_ci(y, scores)
    figures = {
        "ref": store.ref,
        "events": events,
        "duplicates": duplicates,
        "decisions": {name: int(counts[i]) for i, name in enumerate(names)},
        "positive_call": names[call] if 0 <= call < len(names) else None,
        "positive_rate": called / events if events else None,
        "positive_rate_ci": _ci(called, events),
        "labelled": len(y),
        "positives": int(positive.sum()),
        "error_rate": errors / len(y) if len(y) else None,
        "error_rate_ci": _ci(errors, len(y)),
        "at_decisions": at,
        "auc": auc,
        "logloss": loss["logloss"],
        "logloss_ci": loss["ci"],
        "ece": finite_or_none(calibration_error(y, scores)) if len(y) else None,
        "latency": {"infer_ms": _latency(store.latency, store.latency_sum, store.latency_max)},
    }
    raw = {"called": called, "events": events, "errors": errors, "y": y, "scores": scores}
    return figures, raw


def _ci(successes: int, n: int) -> list[float] | None:
    ci = wilson(successes, n)
    return None if ci is None else list(ci)


def compare(primary: dict[str, Any], canary: dict[str, Any]) -> dict[str, Any]:
    """Canary minus primary, each figure with its unpaired test; the arms' AUC intervals
    come from the AUC test's own variances."""
    auc = auc_difference(primary["y"], primary["scores"], canary["y"], canary["scores"])
    return {
        "positive_rate": two_proportions(
            primary["called"], primary["events"], canary["called"], canary["events"]
        ),
        "error_rate": two_proportions(
            primary["errors"], len(primary["y"]), canary["errors"], len(canary["y"])
        ),
        "auc": auc,
        "logloss": logloss_arms(primary["y"], primary["scores"], canary["y"], canary["scores"]),
    }


def figures(
    stores: dict[str, ArmStore], names: list[str], positive_call: int | None
) -> dict[str, Any]:
    """``{"arms": {primary, canary}, "tests": {...}}`` for report.json."""
    arms, raw = {}, {}
    for name in ARMS:
        arms[name], raw[name] = arm_figures(stores[name], names, positive_call)
    tests = compare(raw["primary"], raw["canary"])
    arms["primary"]["auc_ci"] = tests["auc"]["auc1_ci"]
    arms["canary"]["auc_ci"] = tests["auc"]["auc2_ci"]
    return {"arms": arms, "tests": tests}

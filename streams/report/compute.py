"""Every figure of the report from the joined pairs (docs/report.md lists them).

Exact on all pairs: coverage, agreement and the flip matrix, McNemar, the delta's mean and
percentiles, per-segment figures, the trend and every label metric. Rank and linear
correlation use every k-th pair above ``CORRELATION_SAMPLE`` pairs (their sorts would be the
report's largest temporaries), and latency percentiles come from the
histograms the pairs were counted into (the upper edge of the quantile's bin: 12 % wide).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from inference.gate import calibration_error, log_loss
from streams.report.pairs import LATENCY_EDGES, NO_LABEL, PairStore, Segment
from streams.report.significance import (
    bootstrap_difference,
    delong,
    logloss_ci,
    logloss_difference,
    mcnemar,
)
from streams.report.stats import (
    BLOCK,
    calibration_bins,
    delta_summary,
    finite_or_none,
    pearson,
    percentiles_from_histogram,
    precision_recall_at,
    spearman,
    wilson,
)

CORRELATION_SAMPLE = 1_000_000
DELTA_BINS = 40
MAX_CATEGORIES = 20
NICE_WINDOWS_S = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 6 * 3600, 86400)
MAX_TREND_ROWS = 60


def _blocks(n: int) -> Iterator[slice]:
    """Slices of BLOCK rows: whole-column temporaries of ten million rows cost too much."""
    return (slice(at, at + BLOCK) for at in range(0, n, BLOCK))


def _flips(primary: np.ndarray, shadow: np.ndarray, k: int) -> np.ndarray:
    flips = np.zeros(k * k, dtype=np.int64)
    for b in _blocks(len(primary)):
        flips += np.bincount(primary[b].astype(np.int64) * k + shadow[b], minlength=k * k)
    return flips.reshape(k, k)


def decisions(pairs: PairStore, names: list[str]) -> dict[str, Any]:
    p, s = pairs.array("primary_decision"), pairs.array("shadow_decision")
    k = len(names)
    flips = _flips(p, s, k)
    n, agree = int(flips.sum()), int(np.trace(flips))
    ci = wilson(agree, n) if n else None
    # A flag is any decision but the first, the decider's default (below every threshold):
    # McNemar counts the events one model flags and the other does not.
    flagged = np.arange(k) > 0
    only_primary = int(flips[np.ix_(flagged, ~flagged)].sum())
    only_shadow = int(flips[np.ix_(~flagged, flagged)].sum())
    return {
        "names": names,
        "n": n,
        "agree": agree,
        "agreement": agree / n if n else None,
        "agreement_ci": list(ci) if ci else None,
        "flips": flips.tolist(),
        "mcnemar": mcnemar(only_primary, only_shadow),
    }


def _sample(n: int) -> slice:
    """Every pair up to CORRELATION_SAMPLE; above, every k-th (pairs are in event-time
    order within a partition, so a stride samples the whole range evenly)."""
    return slice(None, None, max(1, -(-n // CORRELATION_SAMPLE)))


def scores(pairs: PairStore) -> dict[str, Any]:
    p, s = pairs.array("primary"), pairs.array("shadow")
    delta = np.subtract(s, p, dtype=np.float64)  # exact: scores are float32 or float64
    lo, hi = (float(delta.min()), float(delta.max())) if len(delta) else (0.0, 0.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.01, hi + 0.01
    counts, edges = np.histogram(delta, bins=DELTA_BINS, range=(lo, hi))
    summary = delta_summary(delta, overwrite=True)  # partitions delta: the last use of it
    del delta
    keep = _sample(len(p))
    sample = pairs.sample
    return {
        "delta": summary,
        "spearman": spearman(p[keep], s[keep]),
        "pearson": pearson(p[keep], s[keep]),
        "correlation_rows": len(p[keep]),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        "scatter": {"primary": sample[:, 0].tolist(), "shadow": sample[:, 1].tolist()},
    }


def segment_codes(segment: Segment, values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A code per pair and the name of each code: quantile bins of a numeric field, else
    the field's values (the most common ``MAX_CATEGORIES``; the rest as "other")."""
    if segment.numeric:
        finite = values[np.isfinite(values)]
        qs = np.linspace(0, 1, segment.bins + 1)[1:-1]
        cuts = np.unique(np.quantile(finite, qs)) if len(finite) else np.empty(0)
        codes = np.searchsorted(cuts, values, side="right")
        bounds = [float(finite.min()) if len(finite) else 0.0, *cuts.tolist()]
        last = float(finite.max()) if len(finite) else 0.0
        names = [f"[{a:.4g}, {b:.4g})" for a, b in zip(bounds, [*cuts.tolist(), last], strict=True)]
        names[-1] = names[-1][:-1] + "]"
        if len(finite) < len(values):  # events not found, or without the field
            codes = np.where(np.isfinite(values), codes, len(names))
            names.append("(none)")
        return codes, names
    codes = values.astype(np.int64)
    names = list(segment.names) or [str(v) for v in range(int(codes.max(initial=0)) + 1)]
    names += [str(v) for v in range(len(names), int(codes.max(initial=0)) + 1)]
    counts = np.bincount(codes, minlength=len(names))
    if len(names) > MAX_CATEGORIES:
        top = np.argsort(-counts, kind="stable")[: MAX_CATEGORIES - 1]
        remap = np.full(len(names), MAX_CATEGORIES - 1)
        remap[top] = np.arange(len(top))
        names = [names[i] for i in top] + ["other"]
        codes = remap[codes]
    return codes, names


def segments(pairs: PairStore, decision_names: list[str]) -> list[dict[str, Any]]:
    out = []
    p, s = pairs.array("primary"), pairs.array("shadow")
    pd, sd = pairs.array("primary_decision"), pairs.array("shadow_decision")
    k = len(decision_names)
    for index, segment in enumerate(pairs.segments):
        if segment.name == "decision":
            segment.names = list(decision_names)
        elif segment.name in ("features_missing", "features_stale"):
            segment.names = ["false", "true"]
        codes, names = segment_codes(segment, pairs.segment_array(index))
        rows = []
        for code, name in enumerate(names):
            mask = codes == code
            n = int(mask.sum())
            if not n:
                continue
            delta = np.subtract(s[mask], p[mask], dtype=np.float64)
            q = np.quantile(delta, [0.05, 0.5, 0.95])
            flips = _flips(pd[mask], sd[mask], k)
            keep = _sample(n)
            rows.append({
                "value": name, "n": n, "agreement": float(np.trace(flips)) / n,
                "mean_delta": float(delta.mean()), "p05_delta": float(q[0]),
                "p50_delta": float(q[1]), "p95_delta": float(q[2]),
                "spearman": spearman(p[mask][keep], s[mask][keep]), "flips": flips.tolist(),
            })  # fmt: skip
        kind = "quantile" if segment.numeric else "category"
        out.append({"field": segment.name, "source": segment.source, "kind": kind, "rows": rows})
    return out


def _latency(counts: np.ndarray, total: float, largest: float) -> dict[str, Any]:
    n = int(counts.sum())
    nonzero = np.flatnonzero(counts)
    lo, hi = (int(nonzero[0]), int(nonzero[-1]) + 1) if len(nonzero) else (0, 1)
    q = percentiles_from_histogram(LATENCY_EDGES.tolist(), counts.tolist(), (0.5, 0.9, 0.99))
    return {
        "n": n,
        "mean": total / n if n else None,
        **q,
        "max": largest if n else None,
        "histogram": {
            "edges": LATENCY_EDGES[lo : hi + 1].tolist(),
            "counts": counts[lo:hi].tolist(),
        },
    }


def latency(pairs: PairStore, primary: str, shadow: str) -> dict[str, Any]:
    def one(name: str) -> dict[str, Any]:
        return _latency(pairs.latency[name], pairs.latency_sums[name], pairs.latency_max[name])

    return {
        "models": {primary: {"infer_ms": one("primary")}, shadow: {"infer_ms": one("shadow")}},
        "end_to_end_ms": one("end_to_end"),
    }


def trend(pairs: PairStore, iso: Any) -> dict[str, Any]:
    """Figures per time window; the window is the shortest nice one that cuts the pairs'
    own time span into at most MAX_TREND_ROWS."""
    second = pairs.array("second")
    first, last = (int(second.min()), int(second.max())) if len(second) else (0, 0)
    window = next(
        (w for w in NICE_WINDOWS_S if last // w - first // w + 1 <= MAX_TREND_ROWS),
        NICE_WINDOWS_S[-1],
    )
    p, s = pairs.array("primary"), pairs.array("shadow")
    pd, sd = pairs.array("primary_decision"), pairs.array("shadow_decision")
    size = int(second.max()) // window + 1 if len(second) else 0
    n, sums, abs_sums, agreeing = (np.zeros(size) for _ in range(4))
    for b in _blocks(len(second)):
        bucket = second[b] // window
        delta = np.subtract(s[b], p[b], dtype=np.float64)
        n += np.bincount(bucket, minlength=size)
        sums += np.bincount(bucket, weights=delta, minlength=size)
        abs_sums += np.bincount(bucket, weights=np.abs(delta), minlength=size)
        agreeing += np.bincount(bucket, weights=pd[b] == sd[b], minlength=size)
    rows = [
        {
            "start": iso(pairs.start_ms + i * window * 1000),
            "n": int(n[i]),
            "agreement": float(agreeing[i] / n[i]),
            "mean_delta": float(sums[i] / n[i]),
            "mean_abs_delta": float(abs_sums[i] / n[i]),
        }
        for i in np.flatnonzero(n)
    ]
    return {"window_s": window, "rows": rows}


def labels(
    pairs: PairStore, refs: tuple[str, str], thresholds: dict[str, float]
) -> dict[str, Any] | None:
    label = pairs.array("label")
    known = np.flatnonzero(label != NO_LABEL)
    if not len(known):
        return None
    labelled = len(known)
    known = known[_sample(len(known))]  # every k-th above CORRELATION_SAMPLE: bounded memory
    y = label[known].astype(np.float64)
    # float64 once here: every metric below would otherwise convert its own copy
    p = pairs.array("primary")[known].astype(np.float64)
    s = pairs.array("shadow")[known].astype(np.float64)
    auc_test = delong(y, p, s)
    models = {}
    for role, scores, ref, auc_key in (
        ("primary", p, refs[0], "auc1"),
        ("shadow", s, refs[1], "auc2"),
    ):
        loss = logloss_ci(y, scores)
        at = []
        for decision, threshold in thresholds.items():
            precision, recall = precision_recall_at(y, scores, threshold)
            at.append({"decision": decision, "threshold": threshold,
                       "precision": precision, "recall": recall})  # fmt: skip
        models[role] = {
            "ref": ref,
            "logloss": finite_or_none(log_loss(y, scores)),
            "logloss_ci": loss["ci"],
            "auc": auc_test[auc_key],  # type: ignore[literal-required]
            "auc_ci": auc_test[f"{auc_key}_ci"],  # type: ignore[literal-required]
            "ece": finite_or_none(calibration_error(y, scores)),
            "at_thresholds": at,
            "calibration": calibration_bins(y, scores),
        }
    return {
        "n": len(known),
        "labelled_pairs": labelled,
        "positives": int(y.sum()),
        "models": models,
        "tests": {
            "auc": auc_test,
            "logloss": logloss_difference(y, p, s),
            "ece": bootstrap_difference(y, p, s, calibration_error),
        },
    }

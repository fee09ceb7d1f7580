"""A plausible, fully populated report.json dict (docs: the shadow report's spec), computed
from simulated pairs with a fixed seed, for the report's renderers and their tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

NAMES = ["approve", "review", "decline"]
THRESHOLDS = (0.2, 0.5)
START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
WINDOW_S = 60


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _decide(scores: np.ndarray) -> np.ndarray:
    return np.digitize(scores, THRESHOLDS)


def _flips(primary: np.ndarray, shadow: np.ndarray) -> list[list[int]]:
    matrix = np.zeros((3, 3), dtype=int)
    np.add.at(matrix, (primary, shadow), 1)
    return matrix.tolist()


def _wilson(agree: int, n: int) -> list[float]:
    p, z = agree / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [centre - half, centre + half]


def _quantiles(values: np.ndarray) -> dict[str, float]:
    keys = {"min": 0, "p01": 1, "p05": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95, "p99": 99}
    out = {k: float(np.percentile(values, q)) for k, q in keys.items()}
    out["max"] = float(values.max())
    return out


def _latency(rng: np.random.Generator, n: int, median_ms: float, sigma: float) -> dict[str, Any]:
    ms = rng.lognormal(math.log(median_ms), sigma, n)
    edges = np.geomspace(0.01, 10_000, 49)
    counts, _ = np.histogram(np.clip(ms, edges[0], edges[-1]), edges)
    return {
        "n": n,
        "mean": float(ms.mean()),
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores)] = np.arange(1, len(scores) + 1)
    pos = labels.sum()
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(labels) - pos)))


def _label_metrics(ref: str, scores: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    clipped = np.clip(scores, 1e-6, 1 - 1e-6)
    losses = -(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    se = float(losses.std() / math.sqrt(len(losses)))
    auc = _auc(scores, labels)
    bins = []
    ece = 0.0
    for lo in np.arange(0, 1, 0.1):
        hi = lo + 0.1
        inside = (scores >= lo) & ((scores < hi) if hi < 1 - 1e-9 else (scores <= 1))
        n = int(inside.sum())
        mean = float(scores[inside].mean()) if n else None
        rate = float(labels[inside].mean()) if n else None
        if mean is not None and rate is not None:
            ece += n / len(scores) * abs(mean - rate)
        keys = ("lo", "hi", "n", "mean_score", "positive_rate")
        bins.append(dict(zip(keys, (round(lo, 1), round(hi, 1), n, mean, rate), strict=True)))
    at = []
    for decision, threshold in zip(NAMES[1:], THRESHOLDS, strict=True):
        flagged = scores >= threshold
        hits = int((flagged & (labels == 1)).sum())
        at.append(
            {
                "decision": decision,
                "threshold": threshold,
                "precision": hits / int(flagged.sum()) if flagged.any() else None,
                "recall": hits / int(labels.sum()),
            }
        )
    return {
        "ref": ref,
        "logloss": float(losses.mean()),
        "logloss_ci": [float(losses.mean()) - 1.96 * se, float(losses.mean()) + 1.96 * se],
        "auc": auc,
        "auc_ci": [auc - 0.02, min(auc + 0.02, 1.0)],
        "ece": ece,
        "at_thresholds": at,
        "calibration": bins,
    }


def _labels(
    rng: np.random.Generator, truth: np.ndarray, primary: np.ndarray, shadow: np.ndarray
) -> dict[str, Any]:
    chosen = rng.choice(len(truth), 9000, replace=False)
    y = (rng.random(len(chosen)) < truth[chosen]).astype(int)
    first = _label_metrics("scorer:1", primary[chosen], y)
    second = _label_metrics("scorer:2", shadow[chosen], y)
    tests = {}
    for metric, half, method in (
        ("auc", 0.012, "DeLong"),
        ("logloss", 0.004, "paired, normal approximation"),
        ("ece", 0.003, "paired bootstrap"),  # a bootstrap gives no p-value here
    ):
        d = second[metric] - first[metric]
        p = math.erfc(abs(d) / (half / 1.96) / math.sqrt(2)) if metric != "ece" else None
        tests[metric] = {"delta": d, "ci": [d - half, d + half], "p_value": p, "method": method}
    return {
        "n": len(chosen),
        "positives": int(y.sum()),
        "models": {"primary": first, "shadow": second},
        "tests": tests,
    }


def _segment_rows(
    groups: np.ndarray, values: list[str], primary: np.ndarray, shadow: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    for index, value in enumerate(values):
        inside = groups == index
        p, s = primary[inside], shadow[inside]
        d = s - p
        dp, ds = _decide(p), _decide(s)
        ranks_p, ranks_s = np.argsort(np.argsort(p)), np.argsort(np.argsort(s))
        rows.append(
            {
                "value": value,
                "n": int(inside.sum()),
                "agreement": float((dp == ds).mean()),
                "mean_delta": float(d.mean()),
                "p05_delta": float(np.percentile(d, 5)),
                "p50_delta": float(np.percentile(d, 50)),
                "p95_delta": float(np.percentile(d, 95)),
                "spearman": float(np.corrcoef(ranks_p, ranks_s)[0, 1]),
                "flips": _flips(dp, ds),
            }
        )
    return rows


def sample_report(labels: bool = True, segments: bool = True) -> dict[str, Any]:
    rng = np.random.default_rng(20261128)
    n = 24_000
    truth = rng.beta(0.6, 6.0, n)
    primary = np.clip(truth + rng.normal(0, 0.03, n), 0, 1)
    shadow = np.clip(truth * 1.04 + rng.normal(0.002, 0.025, n), 0, 1)
    delta = shadow - primary
    dp, ds = _decide(primary), _decide(shadow)
    agree = int((dp == ds).sum())
    b = int(((dp >= 1) & (ds == 0)).sum())
    c = int(((ds >= 1) & (dp == 0)).sum())
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    edges = np.linspace(-0.2, 0.2, 41)
    counts, _ = np.histogram(np.clip(delta, edges[0], edges[-1]), edges)
    sampled = rng.choice(n, 2000, replace=False)
    se = float(delta.std() / math.sqrt(n))
    ranks = np.corrcoef(np.argsort(np.argsort(primary)), np.argsort(np.argsort(shadow)))[0, 1]

    minutes = 90
    times = np.sort(rng.integers(0, minutes * 60, n))
    order = np.argsort(rng.random(n))  # pairs in arrival order
    trend = []
    for m in range(minutes):
        inside = order[(times >= m * WINDOW_S) & (times < (m + 1) * WINDOW_S)]
        if len(inside):
            d = delta[inside]
            trend.append(
                {
                    "start": _iso(START + timedelta(seconds=m * WINDOW_S)),
                    "n": len(inside),
                    "agreement": float((dp[inside] == ds[inside]).mean()),
                    "mean_delta": float(d.mean()),
                    "mean_abs_delta": float(np.abs(d).mean()),
                }
            )

    # Drawn whatever the flags say, so that the other figures do not depend on them.
    kinds = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    amount = rng.lognormal(3.5, 1.0, n)
    cuts = np.percentile(amount, [25, 50, 75])
    bounds = [0.0, *cuts.tolist(), float(amount.max())]
    bins = [f"[{bounds[i]:.1f}, {bounds[i + 1]:.1f})" for i in range(4)]
    segment_list = [
        {
            "field": "segment",
            "source": "event",
            "kind": "category",
            "rows": _segment_rows(kinds, ["consumer", "smb", "enterprise"], primary, shadow),
        },
        {
            "field": "amount",
            "source": "event",
            "kind": "quantile",
            "rows": _segment_rows(np.digitize(amount, cuts), bins, primary, shadow),
        },
    ]

    labelled = _labels(rng, truth, primary, shadow)
    return {
        "version": 1,
        "generated_at": _iso(START + timedelta(minutes=minutes + 5)),
        "range": {"from": _iso(START), "to": _iso(START + timedelta(minutes=minutes))},
        "topics": {
            "primary": "predictions",
            "shadow": "predictions.shadow",
            "labels": "labels",
            "events": "events" if segments else None,
        },
        "primary": "scorer:1",
        "shadow": "scorer:2",
        "coverage": {
            "primary_records": n + 410,
            "shadow_records": n + 37,
            "joined": n,
            "primary_only": 410,
            "shadow_only": 37,
            "duplicates": {"primary": 0, "shadow": 3},
            "undecodable": {"primary": 0, "shadow": 0, "labels": 1, "events": 0},
            "other_models": {"scorer:3": 5120},
            "shadow_coverage": n / (n + 410),
        },
        "decisions": {
            "names": NAMES,
            "agreement": agree / n,
            "agreement_ci": _wilson(agree, n),
            "agree": agree,
            "n": n,
            "flips": _flips(dp, ds),
            "mcnemar": {
                "b": b,
                "c": c,
                "statistic": statistic,
                "p_value": math.erfc(math.sqrt(statistic / 2)),
                "method": "chi-square, continuity corrected",
            },
        },
        "scores": {
            "delta": {
                "mean": float(delta.mean()),
                "mean_ci": [float(delta.mean()) - 1.96 * se, float(delta.mean()) + 1.96 * se],
                "std": float(delta.std()),
                "mean_abs": float(np.abs(delta).mean()),
                **_quantiles(delta),
            },
            "spearman": float(ranks),
            "pearson": float(np.corrcoef(primary, shadow)[0, 1]),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
            "scatter": {"primary": primary[sampled].tolist(), "shadow": shadow[sampled].tolist()},
        },
        "segments": segment_list if segments else [],
        "latency": {
            "models": {
                "scorer:1": {"infer_ms": _latency(rng, n, 0.8, 0.45)},
                "scorer:2": {"infer_ms": _latency(rng, n, 1.3, 0.55)},
            },
            "end_to_end_ms": _latency(rng, n, 35.0, 0.6),
        },
        "trend": {"window_s": WINDOW_S, "rows": trend},
        "labels": labelled if labels else None,
        "recommendation": {
            "verdict": "promote",
            "line": f"promote scorer:2: decisions agree on {agree / n:.2%} of {n:,} pairs, "
            "AUC and log loss are no worse",
            "reasons": [
                f"shadow coverage {n / (n + 410):.1%} ≥ 95%",
                f"decision agreement {agree / n:.2%} ≥ 95%",
                "label metrics: AUC not worse (DeLong), log loss not worse",
            ],
            "thresholds": {
                "min_pairs": 1000,
                "min_coverage": 0.95,
                "min_agreement": 0.95,
                "max_auc_drop": 0.005,
                "alpha": 0.05,
            },
        },
    }

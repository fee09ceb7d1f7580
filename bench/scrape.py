"""Prometheus pages read twice, around a measured window: where the worker spends its time.

From the worker's /metrics: ``streamscore_stage_seconds{stage}`` (decode, features, infer,
encode, drift, publish), batch sizes and Triton request time per model. From Triton's metrics
port: per model, how long requests queued in the dynamic batcher and how long the Python
backend computed, and how many requests each execution merged.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

# In the scoring loop one after another, then publish (overlapping the next batches); "drift"
# is the counting into drift window histograms, only while drift monitoring is on.
STAGES = ("decode", "features", "infer", "encode", "drift", "publish")
TRITON_COUNTERS = (
    "nv_inference_request_success",
    "nv_inference_count",
    "nv_inference_exec_count",
    "nv_inference_request_duration_us",
    "nv_inference_queue_duration_us",
    "nv_inference_compute_input_duration_us",
    "nv_inference_compute_infer_duration_us",
    "nv_inference_compute_output_duration_us",
)


def scrape(url: str, timeout_s: float = 5.0) -> Samples:
    with urllib.request.urlopen(url, timeout=timeout_s) as page:
        text = page.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            # The parser names counter samples ``…_total`` whatever the page says.
            name = s.name.removesuffix("_total")
            out[(name, tuple(sorted(s.labels.items())))] = float(s.value)
    return out


def _total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and want <= set(lbl))


def _diff(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return _total(after, name, **labels) - _total(before, name, **labels)


def worker_breakdown(before: Samples, after: Samples, wall_s: float) -> dict[str, Any]:
    """Per stage: batches, mean ms per batch, µs per event, share of the window's wall time."""
    batches = _diff(before, after, "streamscore_batch_size_count")
    events = _diff(before, after, "streamscore_batch_size_sum")
    stages: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        seconds = _diff(before, after, "streamscore_stage_seconds_sum", stage=stage)
        count = _diff(before, after, "streamscore_stage_seconds_count", stage=stage)
        stages[stage] = {
            "seconds": seconds,
            "ms_per_batch": 1e3 * seconds / count if count else 0.0,
            "us_per_event": 1e6 * seconds / events if events else 0.0,
            "share_of_wall": seconds / wall_s if wall_s else 0.0,
        }
    # decode → features of batch k+1 overlap infer of batch k, and publishing overlaps them
    # all (the worker pipelines both); publishing is left out of the agent's busy time.
    scoring = sum(s["seconds"] for name, s in stages.items() if name != "publish")
    models = sorted(
        {dict(lbl)["model"] for (n, lbl) in after if n == "streamscore_infer_seconds_count"}
    )
    infer = {}
    for model in models:
        seconds = _diff(before, after, "streamscore_infer_seconds_sum", model=model)
        count = _diff(before, after, "streamscore_infer_seconds_count", model=model)
        infer[model] = {
            "requests": count,
            "ms_per_request": 1e3 * seconds / count if count else 0.0,
        }
    return {
        "window_s": wall_s,
        "batches": batches,
        "events": events,
        "mean_batch": events / batches if batches else 0.0,
        "stages": stages,
        "scoring_s": scoring,
        "scoring_share": scoring / wall_s if wall_s else 0.0,
        # The agent's wall time outside scoring: Faust taking and acking, waiting for a
        # publish slot, everything else on the event loop.
        "outside_scoring_s": max(wall_s - scoring, 0.0),
        "outside_scoring_share": max(wall_s - scoring, 0.0) / wall_s if wall_s else 0.0,
        "infer_per_model": infer,
    }


def drift_counts(samples: Samples) -> dict[str, float]:
    """A worker's drift counters since it started: summaries published, events not counted
    for lack of a reference."""
    return {
        "summaries": _total(samples, "streamscore_drift_summaries"),
        "unmonitored": _total(samples, "streamscore_drift_unmonitored"),
    }


def triton_breakdown(before: Samples, after: Samples) -> dict[str, dict[str, float]]:
    """Per model:version, per request: µs queued, µs in compute, rows, requests per execution."""
    models = sorted(
        {
            (dict(lbl).get("model", ""), dict(lbl).get("version", ""))
            for (n, lbl) in after
            if n == "nv_inference_request_success"
        }
    )
    out: dict[str, dict[str, float]] = {}
    for model, version in models:
        d: Mapping[str, float] = {
            name: _diff(before, after, name, model=model, version=version)
            for name in TRITON_COUNTERS
        }
        requests = d["nv_inference_request_success"]
        if not requests:
            continue
        compute = sum(
            d[f"nv_inference_compute_{part}_duration_us"] for part in ("input", "infer", "output")
        )
        out[f"{model}:{version}"] = {
            "requests": requests,
            "rows_per_request": d["nv_inference_count"] / requests,
            "requests_per_execution": requests / d["nv_inference_exec_count"]
            if d["nv_inference_exec_count"]
            else 0.0,
            "request_us": d["nv_inference_request_duration_us"] / requests,
            "queue_us": d["nv_inference_queue_duration_us"] / requests,
            "compute_us": compute / requests,
        }
    return out

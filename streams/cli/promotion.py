"""The promotion gate behind `streamscore models promote`: the report's rule, applied before
the routing changes, and a record of every refusal and forced promotion.

The verdict comes from a report given with ``--report`` (its figures, judged with the rule's
current thresholds) or from a report computed now over ``--since``: with the candidate as the
shadow and the current primary as the primary, or, when the candidate is the running canary,
the split report of its arm against the primary's (on outcomes). No evidence (the candidate
never shadowed in the range, Kafka unreachable) is no promotion: the verdict is "keep
shadowing" with the reason. Each refusal, forced promotion and gated promotion is logged with
its figures and appended to the project's Redis list ``streamscore:<project>:promotions``
(newest first, the last 1000 kept).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import redis

from streams.cli.common import err, given
from streams.report.rule import KEEP, Recommendation, recommend
from streams.routing import ModelRef, Routing, RoutingError

log = logging.getLogger("streamscore.promotion")
KEPT = 1000


def promotions_key(project: str) -> str:
    return f"streamscore:{project}:promotions"


def judge(
    ref: ModelRef, current: Routing, since: str, report_path: Path | None, bootstrap: str | None
) -> Recommendation:
    from streams.client.errors import ClientError
    from streams.report.build import ReportRequest, build_report
    from streams.report.errors import ReportError
    from streams.report.reading import TimeRange
    from streams.report.settings import ReportSettings
    from streams.report.split import SplitRequest, build_split_report
    from streams.report.split_rule import recommend_split

    settings = ReportSettings(**given(kafka={"bootstrap": bootstrap}))
    if report_path is not None:
        try:
            report = json.loads(report_path.read_text())
            split = report.get("mode") == "split"
            compared = report["canary" if split else "shadow"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RoutingError(f"{report_path}: not a report.json ({exc})") from None
        if compared != str(ref):
            raise RoutingError(f"{report_path} judges {compared}, not {ref}")
        return (recommend_split if split else recommend)(report, settings.promotion)
    window = TimeRange.parse(since, None, None)
    try:
        if current.canary is not None and current.canary.model == ref:
            # A running canary is judged on outcomes, arm against arm (docs/report.md).
            split_request = SplitRequest(window, str(current.primary), str(ref))
            report = build_split_report(settings, split_request, settings.promotion, _quiet)
            return recommend_split(report, settings.promotion)
        request = ReportRequest(
            window, str(current.primary), str(ref), thresholds=settings.thresholds()
        )
        report = build_report(settings, request, settings.promotion, _quiet)
    except (ReportError, ClientError) as exc:
        return Recommendation(KEEP, f"{KEEP} {ref}: no evidence over the last {since}: {exc}")
    return recommend(report, settings.promotion)


def _quiet(done: int, total: int) -> None:
    """No progress bar: the gate prints only its verdict."""


def record(
    store: redis.Redis, ref: ModelRef, current: Routing | None, verdict: Recommendation,
    forced: bool,
) -> None:  # fmt: skip
    """Log the decision with its figures, on stderr and in Redis."""
    if verdict.verdict == "promote":
        what = "promoted"
    elif forced:
        what = "FORCED promotion against the rule"
    else:
        what = "promotion refused"
    line = f"{what}: {ref} (primary was {current and current.primary}): {verdict.line}"
    log.info(line)  # a warning would print twice: lastResort writes to stderr too
    if what != "promotion refused":  # a refusal is the command's error line already
        err.print(line, markup=False)
    entry = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "candidate": str(ref),
        "primary": str(current.primary) if current else None,
        "verdict": verdict.verdict,
        "forced": forced and verdict.verdict != "promote",
        "promoted": forced or verdict.verdict == "promote",
        "line": verdict.line,
        "reasons": verdict.reasons,
    }
    pipe = store.pipeline()
    from schemas.project import load_project

    key = promotions_key(load_project().name)
    pipe.lpush(key, json.dumps(entry))
    pipe.ltrim(key, 0, KEPT - 1)
    pipe.execute()

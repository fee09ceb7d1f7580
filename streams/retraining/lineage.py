"""The model card of a version the retraining worker exports (inference/card.py).

Built from what the worker already holds when a candidate passes: the request, the range it
read (the offsets per topic-partition that dataset.py recorded while reading, and the
event-time bounds), the dataset's counts, the outcome's metrics and reasons (copied whole:
a new gate's figures arrive here without this module naming them), the primary it was gated
against, the training and gate configurations, and the code. streams/retraining/reproduce.py
reads the same card back to train the version again.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from inference import card as cards
from inference.retraining import RetrainOutcome
from inference.shipping import project_ref
from streams.retraining.dataset import DatasetStats
from streams.retraining.reading import Spans
from streams.retraining.settings import RetrainingSettings
from streams.routing.state import ModelRef

Role = Literal["events", "labels", "features"]


def topic_ranges(settings: RetrainingSettings, spans: dict[str, Spans]) -> list[cards.TopicRange]:
    """The card's ranges, one per topic read, in reading order (events, labels, features)."""
    topics = settings.topics
    roles: list[tuple[Role, str]] = [
        ("events", topics.events),
        ("labels", topics.labels),
        ("features", topics.features),
    ]
    return [
        cards.TopicRange(
            role=role,
            topic=topic,
            partitions=[
                cards.PartitionRange(partition=p, start=start, end=end)
                for p, (start, end) in sorted(spans[topic].items())
            ],
        )
        for role, topic in roles
        if topic in spans
    ]


def spans_of(source: cards.TopicsSource) -> dict[str, Spans]:
    """The inverse of :func:`topic_ranges`: topic -> partition -> [start, end)."""
    return {r.topic: {p.partition: (p.start, p.end) for p in r.partitions} for r in source.topics}


def card_for(
    settings: RetrainingSettings,
    request: dict[str, Any],
    result: dict[str, Any],
    outcome: RetrainOutcome,
    stats: DatasetStats,
    spans: dict[str, Spans],
    parent: ModelRef,
) -> cards.ModelCard:
    """The card of the candidate in ``outcome``, trained for ``request`` (a decoded
    RetrainingRequest: times in epoch ms) on the range of ``result``."""
    project = settings.use_case()
    recipe = settings.training.recipe(project, request["model_name"])
    decider = project.decider(request["model_name"])
    metrics = result["metrics"]
    return cards.ModelCard(
        created_at=cards.now_ms(),
        source=cards.TopicsSource(
            from_ms=result["from_time"],
            to_ms=result["to_time"],
            topics=topic_ranges(settings, spans),
        ),
        dataset=cards.Dataset(
            rows=int(metrics["rows"]), positives=int(metrics["positives"]), stats=stats.metrics()
        ),
        feature_layout=project.layout.hash,
        metrics={k: float(v) for k, v in metrics.items()},
        gate=cards.Gate(
            accepted=outcome.accepted,
            reasons=list(outcome.reasons),
            config=settings.gate.model_dump(mode="json"),
            decisions={"names": list(decider.names), "bounds": list(decider.bounds)},
        ),
        parent=str(parent),
        code=cards.code_version(),
        request=cards.Request(
            request_id=request["request_id"],
            reason=request["reason"],
            requested_by=request["requested_by"],
            alert_ids=list(request["alert_ids"]),
            requested_at=int(request["requested_at"]),
        ),
        training=cards.Training(
            trainer=project.spec.retraining.trainer,
            params=dict(recipe.params),
            seed=recipe.seed,
            holdout_share=recipe.holdout_share,
            torch_threads=torch.get_num_threads(),
        ),
        project=project_ref(project),
    )

"""Train a version again from its model card, and say whether its metrics come out the same.

`streamscore models reproduce NAME:V` (streams/cli/cards.py) runs :func:`reproduce`: it reads
EXACTLY the card's range again (the same topics, partitions and [start, end) offsets, the
same event-time bounds; dataset.py), trains with the card's trainer, params and seed in the
card's torch thread count, and gates the candidate against the card's parent version with
the card's gate configuration and the project's decider, scoring the parent on Triton as
the worker did. Every metric the card holds is compared with the one the run gives, within
``tolerance``.

Why this can match exactly. Training is deterministic on CPU for the same rows in the same
order, the same seed and the same thread count; dataset.py orders rows by (event time,
event_id), whatever the partitions' interleaving; the parent's file on Triton is the one
the worker scored. What breaks it, and then shows as differing metrics rather than silently:
records gone from the range (retention on events and labels; compaction of ``features``
after ``min.compaction.lag.ms``), a parent version exported again, other code (the card's
``code`` says which commit made it), a GPU serving the parent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from inference import card as cards
from inference.gate import GateConfig
from inference.golden import project_set
from inference.repository import ModelRepository
from inference.retraining import Recipe, retrain
from infra.errors import StreamScoreError
from streams.retraining import lineage, serving
from streams.retraining.dataset import DatasetReader
from streams.retraining.settings import RetrainingSettings
from streams.routing.state import ModelRef

TOLERANCE = 1e-6  # absolute, per metric


class ReproduceError(StreamScoreError):
    """The card holds no range to read again, or its inputs no longer fit the code."""


@dataclass(frozen=True, slots=True)
class Comparison:
    metric: str
    recorded: float | None
    reproduced: float | None
    tolerance: float

    @property
    def matches(self) -> bool:
        a, b = self.recorded, self.reproduced
        if a is None or b is None:
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= self.tolerance


@dataclass(frozen=True, slots=True)
class Reproduction:
    ref: ModelRef
    card: cards.ModelCard
    comparisons: list[Comparison]
    accepted: bool
    reasons: list[str]

    @property
    def differing(self) -> list[str]:
        return [c.metric for c in self.comparisons if not c.matches]


def compare(
    recorded: dict[str, float], reproduced: dict[str, float], tolerance: float = TOLERANCE
) -> list[Comparison]:
    """Every metric of either side, in the card's order, then the new ones."""
    names = list(recorded) + [k for k in reproduced if k not in recorded]
    return [Comparison(n, recorded.get(n), reproduced.get(n), tolerance) for n in names]


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch's intra-op threads set to ``n`` for the block (a float sum may group
    differently with another count), then as they were."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def reproduce(
    settings: RetrainingSettings, ref: ModelRef, tolerance: float = TOLERANCE
) -> Reproduction:
    """Retrain ``ref`` from its card; :class:`~inference.card.CardError` for a bad card,
    :class:`ReproduceError` for a card with nothing to reproduce, the worker's errors
    (DatasetError, InferenceError) when Kafka or Triton fail."""
    repo = ModelRepository(settings.model_repository)
    project = settings.use_case()
    card = repo.card(ref.name, ref.version)
    source, gate, training = card.source, card.gate, card.run
    if isinstance(source, cards.SyntheticSource):
        raise ReproduceError(
            f"{ref} was trained on synthetic data ({source.generator}, seed {source.seed}), "
            "not on a range of the topics: nothing to read again"
        )
    if isinstance(source, cards.FileSource):
        raise ReproduceError(
            f"{ref} was added from {source.path} (sha256 {source.sha256[:12]}...): it was "
            "trained elsewhere, nothing here can train it again"
        )
    if card.parent is None or gate is None or training is None or training.holdout_share is None:
        raise ReproduceError(f"the card of {ref} names no parent, gate or holdout to train against")
    if card.feature_layout != project.layout.hash:
        raise ReproduceError(
            f"{ref} was trained on another input layout ({card.feature_layout[:12]}...) than "
            f"the project's ({project.layout.hash[:12]}...)"
        )
    parent = ModelRef.parse(card.parent)
    model = project.model(ref.name)
    recipe = Recipe(project.entry_point(training.trainer), dict(training.params),
                    project.layout.columns, model.task, tuple(model.classes or ()),
                    training.seed, training.holdout_share)  # fmt: skip
    gate_config = GateConfig.model_validate(_known(gate.config))
    topics = settings.topics.model_copy(update={r.role: r.topic for r in source.topics})
    settings = settings.model_copy(update={"topics": topics})
    triton = settings.triton.client()
    try:
        serving.ensure_ready(triton, parent, settings.training.ready_timeout_s, repo)
        spans = lineage.spans_of(source)
        data, stats = DatasetReader(settings).read(source.from_ms, source.to_ms, spans)
        with torch_threads(training.torch_threads):
            outcome = retrain(
                data,
                lambda x: serving.outputs(triton, parent, x, project),
                gate_config,
                recipe,
                project.decider(ref.name),
                golden=project_set(project),
            )
    finally:
        triton.close()
    reproduced = {**stats.metrics(), **outcome.metrics}
    return Reproduction(
        ref,
        card,
        compare(card.metrics, reproduced, tolerance),
        outcome.accepted,
        list(outcome.reasons),
    )


def _known(config: Mapping[str, object]) -> dict[str, object]:
    """A gate configuration as a card recorded it, without the keys this code no longer has
    (a renamed setting takes its default): cards outlive the names of settings."""
    return {k: v for k, v in config.items() if k in GateConfig.model_fields}

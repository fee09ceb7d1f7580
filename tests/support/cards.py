"""Model cards for tests: a complete retraining card (version 2), and a version 1 card as
the code before projects wrote it."""

from __future__ import annotations

from typing import Any

from inference import card as cards
from inference.shipping import project_ref
from tests.support.projects import FRAUD

# A version 1 card as the code before projects wrote it (tests/support/cards.py's sample then):
# the built-in MLP's fields, no trainer, no project; the fraud layout's hash.
V1_CARD: dict[str, Any] = {
    "card_version": 1,
    "created_at": 1_700_000_000_000,
    "source": {"kind": "synthetic", "generator": "inference.synthetic.labelled_dataset", "seed": 7},
    "dataset": {"rows": 480, "positives": 31, "stats": {}},
    "feature_layout": "13e7be48a12ea6e345e380aa4feb33ef6e0e4c93efc2e03ff02f99e3b5308988",
    "metrics": {"final_loss": 0.25},
    "gate": None,
    "parent": None,
    "code": {"commit": "0" * 40, "package_version": "0.1.0", "dirty": False},
    "request": None,
    "training": {
        "epochs": 2, "batch_size": 64, "learning_rate": 0.003, "hidden": 8, "seed": 5,
        "holdout_share": None, "torch_threads": 1,
    },
}  # fmt: skip


def sample_card(**changes: object) -> cards.ModelCard:
    """The card of a retrained version of the fraud example, every section filled;
    ``changes`` replace fields."""
    card = cards.ModelCard(
        created_at=1_700_000_000_000,
        source=cards.TopicsSource(
            from_ms=1_699_990_000_000,
            to_ms=1_700_000_000_000,
            topics=[
                cards.TopicRange(
                    role="events",
                    topic="events",
                    partitions=[
                        cards.PartitionRange(partition=0, start=10, end=500),
                        cards.PartitionRange(partition=1, start=12, end=12),
                    ],
                ),
                cards.TopicRange(role="labels", topic="labels", partitions=[]),
                cards.TopicRange(
                    role="features",
                    topic="features",
                    partitions=[cards.PartitionRange(partition=0, start=0, end=40)],
                ),
            ],
        ),
        dataset=cards.Dataset(rows=480, positives=31, stats={"events_in_range": 488.0}),
        feature_layout=FRAUD.layout.hash,
        metrics={"rows": 480.0, "candidate_auc": 0.8125, "primary_auc": 0.75},
        gate=cards.Gate(accepted=True, reasons=[], config={"min_labels": 200, "min_auc": 0.6}),
        parent="scorer:1",
        code=cards.Code(commit="0" * 40, package_version="0.1.0", dirty=False),
        request=cards.Request(
            request_id="r-1",
            reason="drift",
            requested_by="pytest",
            alert_ids=["a-1"],
            requested_at=1_700_000_000_500,
        ),
        training=cards.Training(
            trainer=FRAUD.spec.retraining.trainer,
            params={"epochs": 2, "batch_size": 64, "learning_rate": 0.003, "hidden": 8},
            seed=5,
            holdout_share=0.25,
            torch_threads=1,
        ),
        project=project_ref(FRAUD),
    )
    return card.model_copy(update=changes)

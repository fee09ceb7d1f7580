"""Model cards for tests: a complete retraining card, and a tiny version with a card."""

from __future__ import annotations

from inference import card as cards


def sample_card(**changes: object) -> cards.ModelCard:
    """The card of a retrained version, every section filled; ``changes`` replace fields."""
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
        feature_layout=cards.feature_layout_hash(),
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
            epochs=2,
            batch_size=64,
            learning_rate=0.003,
            hidden=8,
            seed=5,
            holdout_share=0.25,
            torch_threads=1,
        ),
    )
    return card.model_copy(update=changes)

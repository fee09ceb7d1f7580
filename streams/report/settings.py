"""What `streamscore report shadow` and the promotion gate read from the environment."""

from __future__ import annotations

from pydantic import Field

from streams.client.settings import ClientSettings
from streams.report.rule import PromotionRule
from streams.worker.pipeline import PipelineConfig


class ReportSettings(ClientSettings):
    """Kafka, topics and framing as the clients see them; the rule's thresholds; and the
    decision thresholds the workers score with (precision and recall are reported at them)."""

    promotion: PromotionRule = Field(
        default_factory=PromotionRule, description="The promotion rule's thresholds."
    )
    pipeline: PipelineConfig = Field(
        default_factory=PipelineConfig, description="The workers' decision thresholds."
    )

    def thresholds(self) -> dict[str, float]:
        return {
            "review": self.pipeline.review_threshold,
            "decline": self.pipeline.decline_threshold,
        }

"""What `streamscore report shadow` and the promotion gate read from the environment."""

from __future__ import annotations

from pydantic import Field

from streams.client.settings import ClientSettings
from streams.report.rule import PromotionRule


class ReportSettings(ClientSettings):
    """Kafka, topics, framing and the project as the clients see them, and the rule's
    thresholds; decisions (precision and recall are reported at each) are the project's."""

    promotion: PromotionRule = Field(
        default_factory=PromotionRule, description="The promotion rule's thresholds."
    )

    def thresholds(self) -> dict[str, float]:
        """decision -> score of the project's first model (binary; else none)."""
        from streams.report.build import thresholds_of

        project = self.use_case()
        return thresholds_of(project.decider(project.default_model.name))

"""Event-time windows: tumbling by default, hopping as an option, with allowed lateness.

A window is named by its start (epoch ms, UTC) and spans ``[start, start + size)``. Tumbling
windows start every ``size``; hopping windows every ``hop`` (< ``size``), so an event belongs
to ``size / hop`` of them. A window closes once the watermark (the latest event time seen,
per model version) passes its end plus ``allowed_lateness``; a summary for a closed window
arrives too late and is counted, never merged (drift/agent.py).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from infra.config import Section


class WindowConfig(Section):
    """How events are cut into drift windows, by event time."""

    env_prefix: ClassVar[str] = "DRIFT_WINDOW_"

    size_s: float = Field(5.0, gt=0, description="Length of a drift window, in event time.")
    hop_s: float | None = Field(
        None, gt=0, description="Hopping windows start every HOP seconds; unset = tumbling."
    )
    allowed_lateness_s: float = Field(
        2.0, ge=0, description="How long after its end a window still takes late events."
    )
    idle_close_s: float = Field(
        30.0,
        gt=0,
        description="Wall-clock seconds without a new summary after which the drift agent "
        "closes a model version's windows anyway (the stream went quiet).",
    )

    @model_validator(mode="after")
    def _hop_divides(self) -> WindowConfig:
        if self.hop_s is not None:
            if self.hop_s >= self.size_s:
                raise ValueError("hop_s must be shorter than size_s (or unset for tumbling)")
            ratio = self.size_s / self.hop_s
            if abs(ratio - round(ratio)) > 1e-9:
                raise ValueError("size_s must be a whole multiple of hop_s")
        return self

    @property
    def size_ms(self) -> int:
        return int(self.size_s * 1000)

    @property
    def hop_ms(self) -> int:
        return int((self.hop_s or self.size_s) * 1000)

    @property
    def lateness_ms(self) -> int:
        return int(self.allowed_lateness_s * 1000)

    def assign(self, times_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, window start) pairs: every window each event belongs to. Tumbling windows
        give each row once; hopping windows give each row ``size / hop`` times."""
        times = np.asarray(times_ms, dtype=np.int64)
        hop, size = self.hop_ms, self.size_ms
        last = times - times % hop  # the latest window start at or before each event
        copies = size // hop
        rows = np.tile(np.arange(len(times)), copies)
        starts = np.concatenate([last - k * hop for k in range(copies)])
        return rows, starts

    def closes_at(self, start_ms: int) -> int:
        """The watermark at which the window starting at ``start_ms`` closes."""
        return start_ms + self.size_ms + self.lateness_ms

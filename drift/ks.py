"""KS: a drift detector over window histograms of one column, in river's shape.

Each :meth:`KS.update` takes the counts of ONE closed window on the reference's bins and
runs a binned two-sample Kolmogorov-Smirnov test against the reference (drift/stats.py).
``drift_detected`` is true when ``p_value < alpha`` AND ``statistic >= min_statistic`` AND
the window holds at least ``min_samples`` values.

Why both conditions: with thousands of events per window the p-value alone flags shifts far
too small to matter, and the entity features come from a finite pool of entities, so a
window differs from the reference by a little that is real yet harmless. The effect size
(``min_statistic``, a gap between CDFs) says whether the shift matters; the p-value says
whether it is more than chance on a small window.
"""

from __future__ import annotations

import numpy as np

from drift.psi import check_reference
from drift.stats import ks


class KS:
    """Binned two-sample Kolmogorov-Smirnov test of each window against a reference.

    Parameters
    ----------
    reference
        Reference counts of the column, one per bin.
    alpha
        Significance level: a window is a drift only if its p-value is below it.
    min_statistic
        Smallest CDF gap ``D`` that counts as a drift, whatever the p-value.
    min_samples
        Fewest values a window needs before it can be flagged.

    Examples
    --------
    >>> import numpy as np
    >>> from drift.ks import KS

    >>> detector = KS(np.array([400, 300, 200, 100]), min_samples=100)
    >>> for window in ([40, 30, 20, 10], [380, 320, 190, 110], [100, 200, 300, 400]):
    ...     _ = detector.update(np.array(window))
    ...     print(round(detector.statistic, 2), f"{detector.p_value:.1g}", detector.drift_detected)
    0.0 1 False
    0.02 1 False
    0.4 7e-70 True
    """

    def __init__(
        self,
        reference: np.ndarray,
        alpha: float = 0.001,
        min_statistic: float = 0.1,
        min_samples: int = 500,
    ):
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if not 0 <= min_statistic <= 1:
            raise ValueError("min_statistic must be in [0, 1]")
        if min_samples < 0:
            raise ValueError("min_samples must not be negative")
        self.reference = check_reference(reference)
        self.alpha = float(alpha)
        self.min_statistic = float(min_statistic)
        self.min_samples = int(min_samples)
        self.statistic = 0.0
        self.p_value = 1.0
        self.samples = 0
        self._drift_detected = False

    @property
    def drift_detected(self) -> bool:
        """Whether the last window was a drift."""
        return self._drift_detected

    def update(self, window_counts: np.ndarray) -> KS:
        """Judge one window's counts (on the reference's bins)."""
        self.statistic, self.p_value = ks(self.reference, window_counts)
        self.samples = int(np.sum(window_counts))
        self._drift_detected = bool(
            self.p_value < self.alpha
            and self.statistic >= self.min_statistic
            and self.samples >= self.min_samples
        )
        return self

"""PSI: a drift detector over window histograms of one column, in river's shape.

Each :meth:`PSI.update` takes the counts of ONE closed window on the reference's bins and
judges that window alone (no memory across windows: a stream of window statistics is what
ADWIN is for, see drift/monitor.py). ``drift_detected`` is true when the window's population
stability index reaches ``threshold`` and the window holds at least ``min_samples`` values;
a smaller window is measured but never flagged, because on a few hundred values PSI is noise.

The conventional reading of PSI: below 0.1 stable, 0.1 to 0.2 a moderate shift, 0.2 and
more a significant one; hence the default threshold.
"""

from __future__ import annotations

import numpy as np

from drift.stats import psi


def check_reference(reference: np.ndarray) -> np.ndarray:
    """``reference`` as a read-only 1-D float array of non-negative counts with a positive sum."""
    ref = np.array(reference, dtype=np.float64)
    if ref.ndim != 1 or len(ref) == 0:
        raise ValueError("the reference must be a non-empty 1-D array of counts")
    if (ref < 0).any() or not ref.sum() > 0:
        raise ValueError("reference counts must be non-negative with a positive sum")
    ref.setflags(write=False)
    return ref


class PSI:
    """Population stability index of each window against a reference histogram.

    Parameters
    ----------
    reference
        Reference counts of the column, one per bin.
    threshold
        PSI at or above which a window is a drift.
    min_samples
        Fewest values a window needs before it can be flagged.

    Examples
    --------
    >>> import numpy as np
    >>> from drift.psi import PSI

    >>> detector = PSI(np.array([400, 300, 200, 100]), min_samples=100)
    >>> for window in ([40, 30, 20, 10], [410, 290, 190, 110], [100, 200, 300, 400]):
    ...     _ = detector.update(np.array(window))
    ...     print(round(detector.statistic, 3), detector.samples, detector.drift_detected)
    0.0 100 False
    0.002 1000 False
    0.913 1000 True
    """

    def __init__(self, reference: np.ndarray, threshold: float = 0.2, min_samples: int = 500):
        if not threshold > 0:
            raise ValueError("threshold must be positive")
        if min_samples < 0:
            raise ValueError("min_samples must not be negative")
        self.reference = check_reference(reference)
        self.threshold = float(threshold)
        self.min_samples = int(min_samples)
        self.statistic = 0.0
        self.terms = np.zeros_like(self.reference)
        self.samples = 0
        self._drift_detected = False

    @property
    def drift_detected(self) -> bool:
        """Whether the last window was a drift."""
        return self._drift_detected

    def update(self, window_counts: np.ndarray) -> PSI:
        """Judge one window's counts (on the reference's bins)."""
        self.statistic, self.terms = psi(self.reference, window_counts)
        self.samples = int(np.sum(window_counts))
        self._drift_detected = bool(
            self.statistic >= self.threshold and self.samples >= self.min_samples
        )
        return self

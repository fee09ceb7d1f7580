"""Two-sample statistics on binned counts: population stability index and Kolmogorov-Smirnov.

Both take the reference counts and the window counts of ONE column on the same bins (1-D
arrays of equal length, as :meth:`drift.reference.Reference.histogram` makes them) and are
pure: no state, no randomness. A window with no counts is no evidence of anything: its PSI is
0 and its KS statistic 0 with p-value 1. A reference with no counts is a broken reference and
raises :class:`ValueError`.

Binned KS is a LOWER BOUND of the exact two-sample statistic on the raw values: the CDFs are
compared only at bin edges, and the largest gap may lie inside a bin. Its p-value is therefore
conservative (larger than the exact one), which only makes a detector slower to fire.
"""

from __future__ import annotations

import math

import numpy as np

PSI_FLOOR = 1e-4


def _check(reference: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    win = np.asarray(window, dtype=np.float64)
    if ref.ndim != 1 or ref.shape != win.shape:
        raise ValueError(f"need two 1-D count arrays of one length, got {ref.shape}, {win.shape}")
    if (ref < 0).any() or (win < 0).any():
        raise ValueError("counts must not be negative")
    if ref.sum() <= 0:
        raise ValueError("the reference has no counts")
    return ref, win


def psi(
    reference: np.ndarray, window: np.ndarray, floor: float = PSI_FLOOR
) -> tuple[float, np.ndarray]:
    """Population stability index of ``window`` against ``reference``, and its per-bin terms.

    ``sum((w - r) * ln(w / r))`` over the bins' shares, each share floored at ``floor`` so
    that a bin empty on one side adds a large but finite term (and a bin empty on both adds 0).

    >>> value, terms = psi(np.array([50, 50]), np.array([25, 75]))
    >>> round(value, 4), [round(t, 4) for t in terms]
    (0.2747, [0.1733, 0.1014])
    >>> psi(np.array([50, 50]), np.array([0, 0]))[0]
    0.0
    """
    if not floor > 0:
        raise ValueError("floor must be positive")
    ref, win = _check(reference, window)
    total = win.sum()
    if total == 0:
        return 0.0, np.zeros_like(win)
    r = np.maximum(ref / ref.sum(), floor)
    w = np.maximum(win / total, floor)
    terms = (w - r) * np.log(w / r)
    return float(terms.sum()), terms


def kolmogorov_sf(x: float) -> float:
    """``P(K > x)`` for the Kolmogorov distribution (the limit of ``sqrt(n) * D``).

    >>> round(kolmogorov_sf(1.36), 4)
    0.0495
    """
    if x <= 0:
        return 1.0
    if x < 1.18:
        # The alternating series converges slowly for small x; the Jacobi-theta form of the
        # CDF converges fast there instead.
        z = -(math.pi**2) / (8 * x * x)
        cdf = math.sqrt(2 * math.pi) / x * sum(math.exp((2 * k - 1) ** 2 * z) for k in (1, 2, 3, 4))
        return min(1.0, max(0.0, 1.0 - cdf))
    sf = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in (1, 2, 3, 4, 5))
    return min(1.0, max(0.0, sf))


def ks(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov ``(D, p_value)`` on binned counts.

    ``D`` is the largest gap between the two empirical CDFs at the bin edges (a lower bound
    of the exact statistic, see the module docstring); the p-value is asymptotic, from the
    Kolmogorov distribution at ``sqrt(n * m / (n + m)) * D``.

    >>> d, p = ks(np.array([50, 50]), np.array([25, 75]))
    >>> d, round(p, 4)
    (0.25, 0.0039)
    >>> ks(np.array([50, 50]), np.array([0, 0]))
    (0.0, 1.0)
    """
    ref, win = _check(reference, window)
    n, m = ref.sum(), win.sum()
    if m == 0:
        return 0.0, 1.0
    gap = np.abs(np.cumsum(ref) / n - np.cumsum(win) / m)
    d = float(gap.max())
    return d, kolmogorov_sf(math.sqrt(n * m / (n + m)) * d)

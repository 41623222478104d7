"""Statistics across seeds: means with t confidence intervals, paired tests, Holm's correction."""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of a Student-t interval; low = high = NaN for n < 2."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return (math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return (mean, math.nan, math.nan, n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return (mean, mean - half, mean + half, n)


def paired_p(differences: Sequence[float]) -> float:
    """Two-sided p of a one-sample t-test that the mean paired difference is zero (NaN for n < 2;
    0 or 1 when every difference is the same, since the variance is then zero)."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return math.nan
    if np.all(d == d[0]):
        return 1.0 if d[0] == 0 else 0.0
    # The one-sample t-test written out: scipy's ttest_1samp costs ~1 ms a call in input checks,
    # which added seconds to reports of large grids; the same number (tested against it).
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    return float(2 * stats.t.sf(abs(t), len(d) - 1))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values; NaN stays NaN and is not counted as a test."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), math.nan)
    ok = np.isfinite(p)
    if ok.any():
        # statsmodels' Holm branch ends with gc.collect(), ~0.1 s a call in a large report's heap;
        # frozen objects are skipped by that collection, and unfrozen right after.
        gc.freeze()
        try:
            out[ok] = multipletests(p[ok], method="holm")[1]
        finally:
            gc.unfreeze()
    return out.tolist()


def crosses_zero(low: float, high: float) -> bool:
    """True when the interval includes zero or is undefined (n < 2): no verdict possible."""
    return not (math.isfinite(low) and math.isfinite(high)) or low <= 0.0 <= high

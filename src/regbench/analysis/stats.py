"""Statistics across seeds: means with t confidence intervals, paired tests, Holm's correction."""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence
from typing import NamedTuple

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


# Differences closer than this count as equal: accuracies are stored as float32 fractions, so one
# test example's difference in every seed differs in the 8th digit and would give a t of ~1e7.
SAME = 1e-6


def paired_p(differences: Sequence[float]) -> float:
    """Two-sided p of a one-sample t-test that the mean paired difference is zero (NaN for n < 2).
    When every seed gives the same difference there is no variance for a t-test: p is then the
    exact sign-flip test's, 1 for a zero difference and 2 / 2^n otherwise (0.25 with 3 seeds)."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return math.nan
    if np.ptp(d) <= SAME:
        return 1.0 if abs(d.mean()) <= SAME else min(1.0, 2.0 / 2 ** len(d))
    # The one-sample t-test written out: scipy's ttest_1samp costs ~1 ms a call in input checks,
    # which added seconds to reports of large grids; the same number (tested against it).
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    return float(2 * stats.t.sf(abs(t), len(d) - 1))


class Effect(NamedTuple):
    """A paired effect across seeds: mean, 95% t interval, seeds, spread, two-sided p."""

    mean: float
    low: float
    high: float
    n: int
    sd: float
    p: float


def paired_effect(differences: Sequence[float]) -> Effect:
    """The paired effect of per-seed differences, computed here only (effect tables and claims
    both use it); p from the paired t-test, or the sign-flip test when every difference is the same."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    mean, low, high, n = mean_ci(d)
    return Effect(mean, low, high, n, float(d.std(ddof=1)) if n > 1 else math.nan, paired_p(d))


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
    """True when the interval includes zero, is undefined (n < 2) or has no width (every seed the
    same difference: no variance, so no evidence of a width): no verdict possible."""
    return not (math.isfinite(low) and math.isfinite(high)) or low <= 0.0 <= high or high - low <= SAME


# The significance rule every report uses: an effect is *established* when its 95% CI excludes
# zero and its Holm-corrected p is below this; *suggestive* when only the CI excludes zero.
ALPHA = 0.05


def evidence(low: float, high: float, p_holm: float) -> str:
    """'established', 'suggestive' or 'none' under the significance rule (ALPHA)."""
    if crosses_zero(low, high):
        return "none"
    return "established" if math.isfinite(p_holm) and p_holm < ALPHA else "suggestive"


def seeds_needed(mean: float, sd: float, family: int, power: float = 0.8) -> float:
    """Seeds a paired t-test needs to find an effect of `mean` with the observed spread `sd` at
    the family's Bonferroni level ALPHA / family (Holm's first, strictest step) with `power`;
    NaN when the spread is zero or unknown."""
    from statsmodels.stats.power import TTestPower

    if not (math.isfinite(mean) and math.isfinite(sd)) or sd <= SAME or abs(mean) <= SAME:
        return math.nan
    alpha = ALPHA / max(family, 1)
    power_at = TTestPower().power  # the library's power; its root finder fails on large effects
    effect = abs(mean) / sd
    return next((float(n) for n in range(2, 1001) if power_at(effect, n, alpha) >= power), math.nan)

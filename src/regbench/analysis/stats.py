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


# Seed counts are searched up to this; beyond it the answer is inf ("more than SEEDS_CAP"): no
# longer a plan for a benchmark, and the search stays within a few milliseconds.
SEEDS_CAP = 1000


def paired_power(effect: float, n: np.ndarray, alpha: float) -> np.ndarray:
    """Power of the two-sided paired t-test at level `alpha` for a standardized effect (mean / sd)
    with n seeds: statsmodels' ttest_power formula, P(T > crit) + P(T < -crit) with T noncentral t,
    but both tails from scipy's noncentral-t survival function (Boost). statsmodels takes them
    from special.nctdtr, which returns NaN where a tail is far out (e.g. effect 6, n 6, family 40),
    and a NaN power is never >= a target, so that n was skipped (tests/test_stats.py)."""
    df = n - 1
    crit = stats.t.isf(alpha / 2, df)
    nc = effect * np.sqrt(n)
    # The lower tail P(T < -crit | nc) is, by symmetry, P(T > crit | -nc): a survival function too.
    return stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc)


def _seeds(effect: float, alpha: float, power: float) -> float:
    """The smallest n in 2..SEEDS_CAP whose power reaches `power`, inf when none does."""
    # The power rises with n, so the first window with a hit holds the answer; most fall in the first.
    for start, stop in ((2, 33), (33, SEEDS_CAP + 1)):
        n = np.arange(start, stop)
        hit = np.flatnonzero(paired_power(effect, n, alpha) >= power)
        if hit.size:
            return float(n[hit[0]])
    return math.inf


def _alpha(family: int) -> float:
    """The Bonferroni level of a family: Holm's first, strictest step."""
    return ALPHA / max(family, 1)


def seeds_needed(mean: float, sd: float, family: int, power: float = 0.8) -> float:
    """Seeds a paired t-test needs to find an effect of `mean` with the observed spread `sd` at
    the family's Bonferroni level ALPHA / family (Holm's first, strictest step) with `power`;
    NaN when the spread or the effect is zero or unknown, inf above SEEDS_CAP."""
    if not (math.isfinite(mean) and math.isfinite(sd)) or sd <= SAME or abs(mean) <= SAME:
        return math.nan
    return _seeds(abs(mean) / sd, _alpha(family), power)


def seeds_needed_range(
    mean: float, sd: float, n: int, family: int, power: float = 0.8, level: float = 0.95
) -> tuple[float, float]:
    """(fewest, most) seeds needed, as seeds_needed, at the ends of the chi-square `level` interval
    of the true SD given the SD of n seeds: a count from 3 seeds' SD is a range (the true SD is
    0.52-6.3 times the sample's). NaN, NaN when n < 2 or seeds_needed is NaN; inf above SEEDS_CAP."""
    if not n >= 2 or math.isnan(seeds_needed(mean, sd, family, power)):
        return (math.nan, math.nan)
    low_q, high_q = stats.chi2.interval(level, n - 1)
    sd_low, sd_high = sd * math.sqrt((n - 1) / high_q), sd * math.sqrt((n - 1) / low_q)
    # The bounds themselves may fall below SAME: the effect in SD units is what matters.
    alpha = _alpha(family)
    return (_seeds(abs(mean) / sd_low, alpha, power), _seeds(abs(mean) / sd_high, alpha, power))


def simultaneous_ci(mean: float, sd: float, n: int, family: int, level: float = 0.95) -> tuple[float, float]:
    """(low, high) of the Bonferroni t interval at level 1 - (1 - level) / family for a mean of n
    paired differences with SD `sd`: it excludes zero exactly when p < (1 - level) / family, Holm's
    first step, so it can stand beside Holm-corrected verdicts (for the later Holm steps it is
    conservative). NaN, NaN for n < 2 or an unknown mean or SD."""
    if not (n >= 2 and math.isfinite(mean) and math.isfinite(sd)):
        return (math.nan, math.nan)
    # Written with isf rather than t.interval so that sd == 0 gives (mean, mean) as mean_ci does.
    half = float(stats.t.isf((1 - level) / (2 * max(family, 1)), n - 1) * sd / math.sqrt(n))
    return (mean - half, mean + half)

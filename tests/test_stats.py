"""Statistics across seeds: the power behind seeds_needed, its range, simultaneous intervals."""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.power import ttest_power

from regbench.analysis.stats import (
    SEEDS_CAP,
    holm,
    mean_ci,
    paired_p,
    paired_power,
    seeds_needed,
    seeds_needed_range,
    simultaneous_ci,
)


def reference_power(effect: float, n: int, alpha: float) -> float:
    """The two-sided paired t-test's power by quadrature, independent of any noncentral-t code:
    T = (Z + effect sqrt(n)) / S with S^2 = chi2(n - 1) / (n - 1), so P(|T| > c) is the average
    over S of Phi(nc - c S) + Phi(-nc - c S); S is integrated through its quantile function."""
    df, nc = n - 1, effect * math.sqrt(n)
    crit = stats.t.isf(alpha / 2, df)

    def given_s(u: float) -> float:
        s = math.sqrt(stats.chi2.ppf(u, df) / df)
        return stats.norm.cdf(nc - crit * s) + stats.norm.cdf(-nc - crit * s)

    return integrate.quad(given_s, 0, 1, limit=200, epsabs=1e-12)[0]


def is_smallest(n: float, effect: float, family: int, power: float = 0.8) -> bool:
    """Whether n seeds are the fewest whose reference power reaches `power` (the power rises with n,
    so n reaching it and n - 1 not is enough; two quadratures instead of n)."""
    alpha = 0.05 / family
    return reference_power(effect, int(n), alpha) >= power and (
        n == 2 or reference_power(effect, int(n) - 1, alpha) < power
    )


def test_seeds_needed_where_scipy_power_is_nan():
    # Effect 6 SD (1.2 pp against a per-seed SD of 0.2 pp), family 40: statsmodels' power is NaN
    # at 4 to 11 seeds (special.nctdtr in the far lower tail), so the old loop answered 12.
    assert seeds_needed(0.012, 0.002, 40) == 5 and is_smallest(5, 6.0, 40)
    assert seeds_needed(-0.012, 0.002, 40) == 5  # the sign does not matter


@pytest.mark.parametrize("family", [1, 40])
@pytest.mark.parametrize("effect", [0.7, 2.5, 4.75, 6.0, 10.75, 20.0])
def test_seeds_needed_equals_the_reference(effect, family):
    assert is_smallest(seeds_needed(effect, 1.0, family), effect, family)


def test_power_equals_statsmodels_where_it_is_defined_and_the_reference_elsewhere():
    n = np.arange(2, 41)
    for effect in (0.3, 1.0, 3.0, 6.0, 20.0):
        for alpha in (0.05, 0.05 / 40):
            ours, theirs = paired_power(effect, n, alpha), ttest_power(effect, n, alpha)
            assert np.isfinite(ours).all()
            ok = np.isfinite(theirs)
            np.testing.assert_allclose(ours[ok], theirs[ok], atol=1e-12)
            for i in np.flatnonzero(~ok)[:3]:
                assert ours[i] == pytest.approx(reference_power(effect, int(n[i]), alpha), abs=1e-5)


def test_seeds_needed_is_monotone():
    effects = np.linspace(0.2, 40, 200)
    for family in (1, 12, 40, 51):
        needed = [seeds_needed(e, 1.0, family) for e in effects]
        assert all(a >= b for a, b in zip(needed, needed[1:], strict=False))  # bigger effect, fewer seeds
    for effect in (0.5, 3.0, 16.0):
        by_family = [seeds_needed(effect, 1.0, f) for f in (1, 2, 5, 12, 40, 51, 200)]
        assert by_family == sorted(by_family)
        by_power = [seeds_needed(effect, 1.0, 1, p) for p in (0.5, 0.8, 0.9, 0.99)]
        assert by_power == sorted(by_power)


def test_seeds_needed_edges():
    assert seeds_needed(0.05, 0.02, 51) == 8 and seeds_needed(0.05, 0.02, 1) == 4
    assert math.isnan(seeds_needed(0.05, 0.0, 5)) and math.isnan(seeds_needed(0.0, 0.02, 5))
    assert math.isnan(seeds_needed(math.nan, 0.02, 5)) and math.isnan(seeds_needed(0.05, math.nan, 5))
    assert seeds_needed(0.013, 0.1, 40) <= SEEDS_CAP < seeds_needed(0.012, 0.1, 40) == math.inf
    assert seeds_needed(0.5, 1.0, 1) == 34  # the textbook paired t: d = 0.5, 80%, two-sided 5%


def test_seeds_needed_range_spans_the_true_sds_interval():
    # With 3 seeds the 95% interval of the true SD is 0.52-6.3 times the sample's (issue 27).
    low_q, high_q = stats.chi2.ppf([0.025, 0.975], 2)
    sd_low, sd_high = 0.002 * math.sqrt(2 / high_q), 0.002 * math.sqrt(2 / low_q)
    assert sd_low / 0.002 == pytest.approx(0.52, abs=0.005) and sd_high / 0.002 == pytest.approx(6.28, abs=0.01)
    fewest, most = seeds_needed_range(0.012, 0.002, 3, 40)
    assert (fewest, most) == (seeds_needed(0.012, sd_low, 40), seeds_needed(0.012, sd_high, 40)) == (4, 24)
    assert fewest <= seeds_needed(0.012, 0.002, 40) <= most


def test_seeds_needed_range_narrows_with_seeds_and_has_edges():
    ranges = [seeds_needed_range(0.012, 0.004, n, 40) for n in (3, 5, 10, 30)]
    assert all(a[0] <= b[0] and a[1] >= b[1] for a, b in zip(ranges, ranges[1:], strict=False))
    assert seeds_needed_range(0.012, 0.004, 3, 40, level=0.5)[1] < ranges[0][1]
    assert all(math.isnan(x) for x in seeds_needed_range(0.012, 0.002, 1, 40))
    assert all(math.isnan(x) for x in seeds_needed_range(0.012, 0.0, 3, 40))
    assert all(math.isnan(x) for x in seeds_needed_range(0.012, 0.002, math.nan, 40))
    assert seeds_needed_range(0.005, 0.01, 3, 40)[1] == math.inf  # beyond SEEDS_CAP at the high SD


def test_simultaneous_ci_is_the_bonferroni_t_interval():
    mean, sd, n, family = 0.02, 0.015, 5, 40
    half = stats.t.ppf(1 - 0.05 / (2 * family), n - 1) * sd / math.sqrt(n)
    assert simultaneous_ci(mean, sd, n, family) == pytest.approx((mean - half, mean + half), rel=1e-12)
    values = [0.01, 0.03, 0.02, 0.005, 0.035]
    assert simultaneous_ci(np.mean(values), np.std(values, ddof=1), 5, 1) == pytest.approx(mean_ci(values)[1:3])
    assert simultaneous_ci(mean, 0.0, n, family) == (mean, mean)
    assert all(math.isnan(x) for x in simultaneous_ci(mean, sd, 1, family))
    assert all(math.isnan(x) for x in simultaneous_ci(mean, math.nan, n, family))


def test_simultaneous_ci_excludes_zero_exactly_when_holms_first_step_rejects():
    rng = np.random.default_rng(0)
    for _ in range(20):
        family = [rng.normal(rng.uniform(0, 0.03), 0.01, size=4) for _ in range(12)]
        p = [paired_p(d) for d in family]
        first = int(np.argmin(p))
        d = family[first]
        low, high = simultaneous_ci(d.mean(), d.std(ddof=1), len(d), len(family))
        assert (low > 0 or high < 0) == (holm(p)[first] < 0.05)

"""Effects pooled across conditions: equal-weight average, statsmodels' fixed/random effects."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from regbench.analysis.pooled import FIELDS, TOO_FEW, pool, pool_by_technique

# Five conditions of one technique: Δ test accuracy (fractions), per-seed SD, seeds; the
# between-condition spread is larger than the seed noise, so tau^2 > 0.
FIVE = pd.DataFrame(
    {
        "mean": [0.010, 0.030, -0.005, 0.020, 0.040],
        "sd": [0.010, 0.020, 0.015, 0.010, 0.030],
        "n": [3, 3, 5, 4, 3],
    }
)


def variances(effects: pd.DataFrame) -> np.ndarray:
    return (effects["sd"] ** 2 / effects["n"]).to_numpy()


def test_pooled_estimates_equal_statsmodels():
    got = pool(FIVE)
    res = combine_effects(FIVE["mean"].to_numpy(), variances(FIVE), method_re="chi2")  # chi2 = dl
    fe_ci, re_ci = res.conf_int(alpha=0.05, use_t=False)[:2]
    assert res.tau2 > 0
    expected = dict(
        fe_mean=res.mean_effect_fe, fe_se=res.sd_eff_w_fe, fe_low=fe_ci[0], fe_high=fe_ci[1],
        re_mean=res.mean_effect_re, re_se=res.sd_eff_w_re, re_low=re_ci[0], re_high=re_ci[1],
        tau2=res.tau2, i2=res.i2, q=res.q, q_p=res.test_homogeneity().pvalue,
    )  # fmt: skip
    for name, value in expected.items():
        assert getattr(got, name) == pytest.approx(value, rel=1e-12), name
    assert got.fe_p == pytest.approx(2 * stats.norm.sf(res.mean_effect_fe / res.sd_eff_w_fe))
    assert got.re_p == pytest.approx(2 * stats.norm.sf(res.mean_effect_re / res.sd_eff_w_re))
    assert (got.conditions, got.positive, got.negative, got.left_out, got.floored) == (5, 4, 1, 0, 0)


def test_random_effects_are_dersimonian_laird():
    # The DL moment estimator written out, to check that method_re="dl" is what it says.
    y, v = FIVE["mean"].to_numpy(), variances(FIVE)
    w = 1 / v
    fe = (w * y).sum() / w.sum()
    q = (w * (y - fe) ** 2).sum()
    tau2 = max(0.0, (q - 4) / (w.sum() - (w**2).sum() / w.sum()))
    w_re = 1 / (v + tau2)
    got = pool(FIVE)
    assert (got.q, got.tau2, got.i2) == pytest.approx((q, tau2, (q - 4) / q))
    assert got.re_mean == pytest.approx((w_re * y).sum() / w_re.sum())
    assert got.re_se == pytest.approx(1 / math.sqrt(w_re.sum()))


def test_equal_weight_average_by_hand():
    got = pool(FIVE)
    se_i2 = variances(FIVE)
    se = math.sqrt(se_i2.sum()) / 5
    df = se_i2.sum() ** 2 / (se_i2**2 / (FIVE["n"].to_numpy() - 1)).sum()  # Welch-Satterthwaite
    half = stats.t.ppf(0.975, df) * se
    assert (got.mean, got.se, got.df) == pytest.approx((FIVE["mean"].mean(), se, df))
    assert (got.low, got.high) == pytest.approx((0.019 - half, 0.019 + half))
    assert got.p == pytest.approx(2 * stats.t.sf(0.019 / se, df))


def test_prediction_interval_only_from_four_conditions():
    four = pool(FIVE.iloc[:4])
    res = combine_effects(FIVE["mean"].to_numpy()[:4], variances(FIVE)[:4], method_re="dl")
    half = stats.t.ppf(0.975, 2) * math.sqrt(res.tau2 + res.sd_eff_w_re**2)  # t with k - 2 df
    assert (four.pi_low, four.pi_high) == pytest.approx((res.mean_effect_re - half, res.mean_effect_re + half))
    assert four.note == ""
    three = pool(FIVE.iloc[:3])
    assert math.isnan(three.pi_low) and math.isnan(three.pi_high) and three.note == TOO_FEW
    assert math.isfinite(three.tau2) and math.isfinite(three.re_mean)  # the rest is still there


def test_a_condition_with_one_seed_or_no_sd_is_left_out_and_counted():
    extra = pd.DataFrame({"mean": [0.5, 0.4, math.nan], "sd": [math.nan, math.nan, 0.01], "n": [1, 3, 3]})
    got = pool(pd.concat([FIVE, extra], ignore_index=True))
    assert got.left_out == 3 and got.conditions == 5
    assert dataclasses.replace(got, left_out=0) == pool(FIVE)


def test_identical_conditions_give_no_heterogeneity():
    same = pd.DataFrame({"mean": [0.02] * 5, "sd": [0.01] * 5, "n": [3] * 5})
    got = pool(same)
    # statsmodels' DL tau^2 is (Q - df) / c without DL's truncation at 0 (here -4 / c) and its I^2
    # is -inf at Q = 0: both are truncated, and the random effects are then the fixed effect.
    assert (got.tau2, got.i2, got.q) == (0.0, 0.0, pytest.approx(0.0, abs=1e-20))
    assert (got.re_mean, got.re_se) == pytest.approx((got.fe_mean, got.fe_se))
    assert got.re_mean == pytest.approx(0.02) and got.pi_high - got.pi_low > 0


def test_less_spread_than_chance_truncates_tau2():
    close = FIVE.assign(mean=[0.020, 0.021, 0.019, 0.020, 0.022])
    got = pool(close)
    assert got.q < 4 and got.tau2 == 0.0 and got.i2 == 0.0
    assert (got.re_mean, got.re_se, got.re_low) == pytest.approx((got.fe_mean, got.fe_se, got.fe_low))


def test_zero_spread_is_floored_at_the_smallest_observed_sd():
    zero = pd.concat([FIVE, pd.DataFrame({"mean": [0.0], "sd": [0.0], "n": [3]})], ignore_index=True)
    got = pool(zero)
    floored = pool(zero.assign(sd=zero["sd"].replace(0.0, 0.010)))
    assert got.floored == 1 and got.conditions == 6 and (got.positive, got.negative) == (4, 1)
    assert dataclasses.replace(got, floored=0) == floored
    alone = pool(pd.DataFrame({"mean": [0.01, 0.02], "sd": [0.0, 0.0], "n": [3, 3]}))
    assert alone.mean == pytest.approx(0.015) and math.isnan(alone.low) and math.isnan(alone.fe_mean)


def test_few_or_no_conditions():
    one = pool(FIVE.iloc[:1])
    assert one.conditions == 1 and one.mean == one.fe_mean == pytest.approx(0.010)
    assert one.df == 2 and math.isnan(one.re_mean) and math.isnan(one.tau2) and one.note == TOO_FEW
    none = pool(FIVE.iloc[:0])
    assert none.conditions == 0 and math.isnan(none.mean) and math.isnan(none.fe_mean)


def test_pool_by_technique_has_one_row_per_group():
    effects = pd.concat(
        [
            FIVE.assign(technique_set="dropout", metric="test_accuracy"),
            FIVE.iloc[:3].assign(technique_set="l2", metric="test_accuracy"),
            FIVE.assign(technique_set="dropout", metric="accuracy_gap", mean=-FIVE["mean"]),
        ],
        ignore_index=True,
    )
    table = pool_by_technique(effects, ["technique_set", "metric"])
    assert list(table.columns) == ["technique_set", "metric", *FIELDS]
    assert len(table) == 3
    row = table.set_index(["technique_set", "metric"]).loc[("l2", "test_accuracy")]
    expected = dataclasses.asdict(pool(FIVE.iloc[:3]))
    assert row["note"] == TOO_FEW and row["conditions"] == 3
    assert row.drop("note").astype(float).to_numpy() == pytest.approx(
        np.array([v for k, v in expected.items() if k != "note"], dtype=float), nan_ok=True
    )
    assert len(pool_by_technique(effects, ["metric"])) == 2

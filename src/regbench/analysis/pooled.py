"""A technique's effect pooled across the grid's conditions (dataset, train size, model, section,
imbalance): the equal-weight average over conditions, and statsmodels' fixed- and random-effects
meta-analysis with the between-condition spread (tau^2, I^2, Cochran's Q, a prediction interval).

Input: one row per condition, columns mean (the condition's paired effect across seeds, e.g.
Δ test accuracy as a fraction), sd (the SD of the per-seed differences) and n (seeds)."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from regbench.analysis.stats import SAME

# A prediction interval for a new condition uses t with k - 2 degrees of freedom (Higgins,
# Thompson & Spiegelhalter 2009); with fewer conditions the spread is not worth a number.
MIN_PREDICT = 4
TOO_FEW = "too few conditions to say how it varies"


@dataclass(frozen=True)
class Pooled:
    """A technique's effect pooled over conditions. Fields:
    conditions (k pooled), left_out (rows with n < 2 or no finite mean/SD), floored (pooled rows
    whose SD was 0, given the smallest positive SD of the others), positive / negative (pooled
    conditions with mean > 0 / < 0, beyond stats.SAME);
    mean, se, df, low, high, p: the equal-weight average of the conditions' means, its SE
    sqrt(sum se_i^2) / k, Welch-Satterthwaite df, t interval and two-sided t p;
    fe_mean, fe_se, fe_low, fe_high, fe_p: inverse-variance fixed effect (normal interval and p);
    re_mean, re_se, re_low, re_high, re_p: DerSimonian-Laird random effects (normal);
    tau2 (between-condition variance, DL, >= 0), i2 (I^2 as a fraction, >= 0), q and q_p
    (Cochran's Q and its chi-square p); pi_low, pi_high: the prediction interval for a new
    condition (NaN below MIN_PREDICT conditions); note: TOO_FEW then, else ""."""

    conditions: int
    left_out: int
    floored: int
    positive: int
    negative: int
    mean: float
    se: float
    df: float
    low: float
    high: float
    p: float
    fe_mean: float
    fe_se: float
    fe_low: float
    fe_high: float
    fe_p: float
    re_mean: float
    re_se: float
    re_low: float
    re_high: float
    re_p: float
    tau2: float
    i2: float
    q: float
    q_p: float
    pi_low: float
    pi_high: float
    note: str


FIELDS = [f.name for f in dataclasses.fields(Pooled)]
AVERAGE = FIELDS[FIELDS.index("mean") : FIELDS.index("p") + 1]  # the equal-weight fields
META = FIELDS[FIELDS.index("fe_mean") : FIELDS.index("pi_high") + 1]  # statsmodels' fields


def usable(effects: pd.DataFrame) -> pd.DataFrame:
    """The rows that can be pooled (n >= 2, finite mean and SD) with se = sd / sqrt(n) and a
    column floored; an SD of 0 (every seed the same difference) is raised to the smallest
    positive SD of the others, since zero variance would take all the inverse-variance weight,
    and leaving such rows out would bias the average (they are often exact-zero effects)."""
    ok = (effects["n"] >= 2) & np.isfinite(effects["mean"]) & np.isfinite(effects["sd"])
    rows = effects.loc[ok, ["mean", "sd", "n"]].astype(float)
    floored = rows["sd"] <= SAME
    floor = rows.loc[~floored, "sd"].min() if (~floored).any() else math.nan
    rows["sd"] = rows["sd"].where(~floored, floor)
    return rows.assign(se=rows["sd"] / np.sqrt(rows["n"]), floored=floored)


def equal_weight(rows: pd.DataFrame, level: float) -> dict[str, float]:
    """mean, se, df, low, high, p of the unweighted average of the rows' means: each condition
    counts once whatever its seeds, the "average effect over the grid's conditions"."""
    k, var = len(rows), rows["se"] ** 2
    mean, se = float(rows["mean"].mean()), float(math.sqrt(var.sum()) / k)
    # Welch-Satterthwaite: the df of a sum of independent variance estimates, each on n_i - 1 df.
    df = float(var.sum() ** 2 / (var**2 / (rows["n"] - 1)).sum()) if se > 0 else math.nan
    if not (math.isfinite(df) and se > 0):
        return dict(mean=mean, se=se, df=df, low=math.nan, high=math.nan, p=math.nan)
    low, high = map(float, stats.t.interval(level, df, loc=mean, scale=se))
    return dict(mean=mean, se=se, df=df, low=low, high=high, p=float(2 * stats.t.sf(abs(mean) / se, df)))


def _normal(prefix: str, mean: float, se: float, level: float) -> dict[str, float]:
    """{prefix}mean, se, low, high and two-sided p of a normal estimate."""
    low, high = map(float, stats.norm.interval(level, loc=mean, scale=se)) if se > 0 else (math.nan, math.nan)
    p = float(2 * stats.norm.sf(abs(mean) / se)) if se > 0 else math.nan
    return {f"{prefix}mean": mean, f"{prefix}se": se, f"{prefix}low": low, f"{prefix}high": high, f"{prefix}p": p}


def meta(rows: pd.DataFrame, level: float) -> dict[str, float]:
    """Fixed effect, DerSimonian-Laird random effects, tau2, i2, q, q_p, pi_low, pi_high of the
    rows, from statsmodels' combine_effects (method_re="dl": the one-step DL moment estimator)."""
    nan = dict.fromkeys(META, math.nan)
    k = len(rows)
    if k == 0 or not (rows["se"] > 0).all():
        return nan
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # k = 1: Q / (k - 1) and tau2 are 0 / 0
        res = combine_effects(rows["mean"].to_numpy(), rows["se"].to_numpy() ** 2, method_re="dl")
    out = {**nan, **_normal("fe_", float(res.mean_effect_fe), float(res.sd_eff_w_fe), level)}
    if k < 2:
        return out
    q, q_p = res.test_homogeneity()
    # statsmodels' DL tau2 is (Q - df) / c untruncated, and its I^2 is 1 - (k-1)/Q (-inf at Q = 0):
    # DL truncates at 0, and then the random-effects estimate is the fixed-effect one.
    tau2 = max(float(res.tau2), 0.0)
    re_mean, re_se = (res.mean_effect_re, res.sd_eff_w_re) if res.tau2 > 0 else (res.mean_effect_fe, res.sd_eff_w_fe)
    out |= _normal("re_", float(re_mean), float(re_se), level)
    out |= dict(tau2=tau2, i2=max(float(res.i2), 0.0) if q > 0 else 0.0, q=float(q), q_p=float(q_p))
    if k >= MIN_PREDICT:  # statsmodels (0.15) has no prediction interval: Higgins et al. 2009
        scale = math.sqrt(tau2 + float(re_se) ** 2)
        out["pi_low"], out["pi_high"] = map(float, stats.t.interval(level, k - 2, loc=float(re_mean), scale=scale))
    return out


def pool(effects: pd.DataFrame, level: float = 0.95) -> Pooled:
    """The effect of one technique pooled over the conditions of `effects` (columns mean, sd, n;
    one row per condition): see Pooled for the fields; level is every interval's coverage."""
    rows = usable(effects)
    k = len(rows)
    counts = dict(
        conditions=k,
        left_out=len(effects) - k,
        floored=int(rows["floored"].sum()),
        positive=int((rows["mean"] > SAME).sum()),
        negative=int((rows["mean"] < -SAME).sum()),
    )
    average = equal_weight(rows, level) if k else dict.fromkeys(AVERAGE, math.nan)
    return Pooled(**counts, **average, **meta(rows, level), note=TOO_FEW if k < MIN_PREDICT else "")


def pool_by_technique(effects: pd.DataFrame, by: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """One row per group of `effects` (e.g. by = ["technique_set", "metric"]; rows: conditions with
    columns mean, sd, n). Columns: the `by` columns, then Pooled's fields in its order:
    conditions, left_out, floored, positive, negative, mean, se, df, low, high, p, fe_mean, fe_se,
    fe_low, fe_high, fe_p, re_mean, re_se, re_low, re_high, re_p, tau2, i2, q, q_p, pi_low, pi_high,
    note (Pooled's docstring says what each holds)."""
    by = list(by)
    rows = [
        {
            **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
            **dataclasses.asdict(pool(group, level)),
        }
        for key, group in effects.groupby(by, sort=True, dropna=False)
    ]
    return pd.DataFrame(rows, columns=[*by, *FIELDS])

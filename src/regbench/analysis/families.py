"""Which comparisons share a multiple-comparison correction, and the verdict each gets. A family is
fixed by the question a table answers, never by whatever else the grid holds, and a comparison has
one p and one verdict wherever it appears:

- **pooled**: each technique set's effect averaged over the grid's testable conditions (one family,
  one per section in a grid of sections);
- **per condition**: within one condition, each technique set against the baseline (many-to-one);
- **per factorial** (and per leave-one-out design), within one condition: its terms;
- **claims**: every testable claim row that is not already one of the comparisons above.

Verdicts are on the primary endpoint, test accuracy; the gap is shown with its decomposition and
never judged twice. Outside every family: controls ([design] controls), a set identical to another
in every seed (counted once, under the other's name), and rows whose condition cannot answer the
question (not testable). Under the significance rule (stats.evidence) an effect is *established*
when its 95% CI excludes 0 and its Holm-corrected p < 0.05 within its family, *suggestive* when only
the CI does. Beside each judged row: the Bonferroni interval at the family's size (simultaneous,
consistent with Holm's first step). Never imports TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from regbench.analysis.aggregate import CONDITION
from regbench.analysis.labels import condition_label
from regbench.analysis.stats import ALPHA, evidence, holm, seeds_needed_range, simultaneous_ci

FAMILY_COLUMNS = ["family", "family_size", "p_holm", "evidence", "sim_low", "sim_high", "seeds_low", "seeds_high"]


def assign(frame: pd.DataFrame, family_of: Callable[[pd.Series], str | None]) -> pd.DataFrame:
    """`frame` (rows with mean, low, high, sd, n, p) with FAMILY_COLUMNS: family (its name, "" where
    the row is outside every family), family_size (tests in it), p_holm (Holm within it), evidence
    (established | suggestive | none; "" outside), sim_low, sim_high (the Bonferroni interval at the
    family's size), seeds_low, seeds_high (for a suggestive effect: the seeds that would establish
    it, from the 95% CI of its spread)."""
    if frame.empty:
        return frame.assign(**{c: pd.Series(dtype=float) for c in FAMILY_COLUMNS})
    out = frame.copy()
    out["family"] = [family_of(r) or "" for _, r in out.iterrows()]
    out[FAMILY_COLUMNS[1:]] = np.nan
    out["evidence"] = ""
    for _, group in out[out["family"] != ""].groupby("family", sort=False):
        tests = group["p"].notna()
        out.loc[group.index, "family_size"] = int(tests.sum())
        out.loc[group.index, "p_holm"] = holm(group["p"].tolist())
    for i in out.index[out["family"] != ""]:
        r = out.loc[i]
        out.loc[i, "evidence"] = evidence(r["low"], r["high"], r["p_holm"])
        size = max(int(r["family_size"]), 1) if math.isfinite(r["family_size"]) else 1
        out.loc[i, ["sim_low", "sim_high"]] = simultaneous(r, size)
        if out.loc[i, "evidence"] == "suggestive" and "sd" in r:
            out.loc[i, ["seeds_low", "seeds_high"]] = seeds_needed_range(r["mean"], r["sd"], int(r["n"]), size)
    return out


def sizes(frame: pd.DataFrame) -> pd.Series:
    """{family: its size} of the judged rows (family != "") of a table with the family columns."""
    judged = frame[frame["family"] != ""] if len(frame) and "family" in frame else frame.iloc[:0]
    return judged.groupby("family")["family_size"].first().astype(int) if len(judged) else pd.Series(dtype=int)


def simultaneous(row: pd.Series, size: int) -> tuple[float, float]:
    """The Bonferroni interval of a row at a family of `size`: from its seeds (sd, n), or for a
    pooled row from its standard error and degrees of freedom (se, df)."""
    if "df" in row and "se" in row:
        if not (math.isfinite(row["se"]) and math.isfinite(row["df"]) and row["df"] > 0):
            return (math.nan, math.nan)
        half = float(stats.t.ppf(1 - ALPHA / (2 * size), row["df"]) * row["se"])
        return (row["mean"] - half, row["mean"] + half)
    return simultaneous_ci(row["mean"], row["sd"], int(row["n"]), size)


def condition_family(row: pd.Series) -> str | None:
    """The per-condition family of an effect against the baseline on test accuracy, or None."""
    if row["metric"] != "test_accuracy" or not row.get("testable", True) or row.get("outside", ""):
        return None
    return condition_label(*(row[c] for c in CONDITION))


def pooled_family(row: pd.Series) -> str | None:
    """The pooled family of a set's effect on test accuracy, one per section ("pooled A"), or None."""
    return f"pooled {row['section']}".strip() if row["metric"] == "test_accuracy" else None


def design_family(kind: str) -> Callable[[pd.Series], str | None]:
    """The family of a factorial term or leave-one-out contribution: its design within one condition."""

    def family(row: pd.Series) -> str | None:
        if row["metric"] != "test_accuracy" or not row.get("testable", True):
            return None
        return f"{kind} on {condition_label(*(row[c] for c in CONDITION))}"

    return family

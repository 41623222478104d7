"""A grid's [[claims]] tested against its stored cells: one row per claim, section and condition
with the measured effect, its 95% CI and n, and a verdict. Never imports TensorFlow.

Verdicts: *supported* (the CI lies on the claimed side of zero and Holm's correction within the
row's family keeps p < 0.05, or a level's CI inside the claimed range), *suggestive* (the CI
alone), *not supported* (the CI includes zero), *contradicted* (the CI lies on the other side,
corrected, or a level wholly outside the range), *not testable* (the condition's baseline
underfits, or a compared technique's trigger never fired: see `evidence`), *not measured* (with
the reason: data missing, not run yet, one seed, no learning-rate drop, no evaluation at the step).

A comparison has one p wherever it appears: a claim row that is an effect against the baseline on
test accuracy (one the effects table already judges within its condition) takes that row's p and
verdict; every other testable row is one family, the claims (analysis/families.py). A claim that a
set reduces overfitting is vetoed when test accuracy fell: established in the effects table where
that comparison is judged there, else under the claims family's correction (the Bonferroni interval
at its size lies below zero): the gap shrank by underfitting.
A claim that states a magnitude is also judged against it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis.claim_measures import MEASURES, compared, value_text
from regbench.analysis.labels import short_label
from regbench.analysis.missing import not_run_reason
from regbench.analysis.stats import ALPHA, holm, simultaneous_ci
from regbench.analysis.verdicts import Judged
from regbench.grid.claim_kinds import is_paired
from regbench.grid.spec import Claim, GridSpec

COLUMNS = [
    "article",
    "claim",
    "setting",
    "condition",
    "compared",
    "measured",
    "n",
    "p (Holm)",
    "family",
    "claimed",
    "testable",
    "verdict",
]


def evaluate(
    spec: GridSpec, cells: pd.DataFrame, history: pd.DataFrame, verdicts: Judged, data_dir: Path | None = None
) -> pd.DataFrame:
    """Columns: article, claim, setting ("cpu-sized (A-cpu)"), condition, compared (the sets, in
    short labels), measured (effect with 95% CI), n (seeds), p (Holm), family (the correction it is
    judged under, and its size), claimed (the source's figure), testable ("yes", or "no: " and
    why), verdict. `cells` are the arms; the regime and trigger checks of `verdicts`
    (analysis/verdicts.judge) decide what is testable, and its judged effects lend their p and
    verdict to the claim rows that are the same comparison."""
    rows = []
    good = agg.ok(cells)
    judged_effects = registry(verdicts.effects)
    for claim in spec.claims:
        for section in claim.sections or (None,):
            part = next(p for p in spec.parts() if p.section == section)
            setting = f"{part.setting} ({section})" if section else part.setting
            head = {"article": claim.article, "claim": claim.claim, "setting": setting, "claimed": claim.claimed,
                    "expect": claim.expect, "metric": claim.metric, "magnitude": claim.magnitude}  # fmt: skip
            mine = good[good["section"] == section] if section else good
            measured = list(MEASURES[claim.kind](claim, mine, history)) if len(mine) else []
            measured = [judged(row, claim, verdicts) for row in measured]
            for row in measured:
                key = row.pop("comparison", None)
                if row.get("testable") == "yes" and key in judged_effects:
                    row["lent"] = judged_effects[key].to_dict()
                fell = ("test_accuracy", *key[1:]) if isinstance(key, tuple) else None
                if "veto" in row and fell in judged_effects:  # the test-accuracy change has its verdict already
                    row["veto_lent"] = judged_effects[fell].to_dict()
            if not measured:
                stored = cells[cells["section"] == section] if section and len(cells) else cells
                why = unmeasured_reason(spec, part, stored, data_dir)
                measured = [{"condition": "-", "compared": compared(claim), "measured": "-", "n": 0, "testable": "-",
                             "verdict": why}]  # fmt: skip
            rows += [head | row for row in measured]
    return corrected(pd.DataFrame(rows))


def registry(effects: pd.DataFrame | None) -> dict[tuple, pd.Series]:
    """{(metric, condition, set, "baseline"): its effects row} of every effect judged in a family."""
    if effects is None or effects.empty or "family" not in effects:
        return {}
    judged = effects[effects["family"] != ""]
    return {
        (r["metric"], tuple(r[c] for c in agg.CONDITION), r["technique_set"], agg.BASELINE): r
        for _, r in judged.iterrows()
    }


def corrected(table: pd.DataFrame) -> pd.DataFrame:
    """The claims table under the report's significance rule. Rows lent an effects row keep its p
    and verdict; the other testable rows with a p are one family (Holm): a verdict the CI alone
    gives (supported, contradicted) without a corrected p below ALPHA is only suggestive. Then the
    underfitting veto and the claimed magnitude. Level claims (a range, not a null hypothesis) have
    no p and keep their verdict."""
    if table.empty:
        return pd.DataFrame(columns=COLUMNS)
    lent = table["lent"] if "lent" in table else pd.Series(None, index=table.index, dtype=object)
    p = table["p"] if "p" in table else pd.Series(np.nan, index=table.index)
    p = p.where(table["testable"].eq("yes") & lent.isna())
    size = int(p.notna().sum())
    adjusted = holm(p.tolist())
    holm_p, family, verdicts = [], [], []
    for (_, row), own in zip(table.iterrows(), adjusted, strict=True):
        text = row["verdict"]
        if isinstance(row.get("lent"), dict):
            effect = row["lent"]
            own, text = effect["p_holm"], lent_verdict(effect, row["expect"])
            family.append(f"{effect['family']} ({int(effect['family_size'])})")
        else:
            family.append(f"claims ({size})" if math.isfinite(own) else "-")
            if text in ("supported", "contradicted") and math.isfinite(own) and own >= ALPHA:
                text = f"suggestive: {text} by the CI alone (Holm p {own:.2f} across {size} claim rows)"
        text = vetoed(text, row, size)
        holm_p.append(own)
        verdicts.append(text + magnitude_text(row))
    table["p (Holm)"] = [("<0.001" if v < 0.001 else f"{v:.3f}") if math.isfinite(v) else "-" for v in holm_p]
    table["family"], table["verdict"] = family, verdicts
    return table[COLUMNS]


def lent_verdict(effect: dict, expect: str) -> str:
    """A claim's verdict from the effects row it is: its family's evidence, on the claimed side or not."""
    if effect["evidence"] == "none":
        return "not supported (CI includes 0)"
    side = "supported" if (effect["mean"] > 0) == (expect == "increase") else "contradicted"
    if effect["evidence"] == "established":
        return side
    return f"suggestive: {side} by the CI alone (Holm p {effect['p_holm']:.2f} in its condition's family)"


def vetoed(text: str, row: pd.Series, size: int) -> str:
    """A supported claim that a set reduces overfitting, unless test accuracy fell: established in
    the effects table, where that comparison is judged (one verdict wherever it appears), else
    under the claims family's correction (its Bonferroni interval at `size` lies below zero)."""
    veto = row.get("veto")
    if text != "supported" or not isinstance(veto, tuple):
        return text
    lent = row.get("veto_lent")
    if isinstance(lent, dict):
        if lent["evidence"] == "established" and lent["mean"] < 0:
            fell = value_text("test_accuracy", lent["mean"], lent["low"], lent["high"])
            return (
                f"not supported: the gap shrank by underfitting (test accuracy {fell}, established in its "
                "condition's family)"
            )
        return text
    low, high = simultaneous_ci(veto.mean, veto.sd, veto.n, max(size, 1))
    if math.isfinite(high) and high < 0:
        fell = value_text("test_accuracy", veto.mean, low, high)
        return f"not supported: the gap shrank by underfitting (test accuracy {fell}, simultaneous)"
    return text


def magnitude_text(row: pd.Series) -> str:
    """'; as large as claimed' / '; smaller than claimed: +2.1 pp [+0.4, +3.8] vs +10.0 pp', for an
    effect row of a claim that states a magnitude."""
    claimed, effect = row.get("magnitude", math.nan), row.get("effect")
    if not (isinstance(claimed, float) and math.isfinite(claimed)) or not isinstance(effect, tuple):
        return ""
    if not (math.isfinite(effect.low) and math.isfinite(effect.high)):
        return ""
    what = value_text(row["metric"], claimed, math.nan, math.nan)
    got = value_text(row["metric"], effect.mean, effect.low, effect.high)
    if effect.low <= claimed <= effect.high:
        return f"; as large as claimed ({what})"
    return f"; {'smaller' if effect.high < claimed else 'larger'} than claimed: {got} vs {what}"


def judged(row: dict[str, Any], claim: Claim, verdicts: Judged) -> dict:
    """A measured row with its testable column, and the verdict replaced by "not testable" where
    a condition it rests on (`row["keys"]`) has an underfitting baseline or a compared set's
    trigger fired in no seed; a trigger that did not fire in every seed is
    noted beside the measurement."""
    keys = row.pop("keys")
    underfit, idle, notes = verdicts.underfit, verdicts.never_engaged, verdicts.trigger_notes
    sets = (claim.set, claim.against) if is_paired(claim.kind) else (claim.set,)
    why = [underfit[k] for k in keys if k in underfit] + [idle[(*k, s)] for k in keys for s in sets if (*k, s) in idle]
    partial = sorted(
        {f"{short_label(s)}: {notes[(*k, s)]}" for k in keys for s in sets if "never" in notes.get((*k, s), "") and (*k, s) not in idle}
    )  # fmt: skip
    if partial:
        row["measured"] += f" ({'; '.join(partial)})"
    if why:
        return row | {"testable": f"no: {why[0]}", "verdict": f"not testable: {why[0]}"}
    return row | {"testable": "yes"}


def unmeasured_reason(spec: GridSpec, part: GridSpec, stored: pd.DataFrame, data_dir: Path | None) -> str:
    """Why a claim has no measurement in `part`, whose stored cells (ok and failed) are `stored`."""
    if len(agg.ok(stored)):
        return "not measured: the compared sets have no seed stored in common yet"
    if len(stored):
        return "not measured: every stored cell of the section failed"
    return f"not measured: {not_run_reason(spec, part, data_dir)}"


def tally(table: pd.DataFrame) -> str:
    """'12 supported, 5 not supported, 1 contradicted, 2 not testable, 9 not measured' over the
    claims table's rows."""
    verdicts = ("supported", "suggestive", "not supported", "contradicted", "not testable", "not measured")
    kinds = table["verdict"].str.extract(f"^({'|'.join(verdicts)})")[0]
    counts = kinds.value_counts()
    return ", ".join(f"{counts.get(k, 0)} {k}" for k in verdicts)

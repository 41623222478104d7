"""A grid's [[claims]] tested against its stored cells: one row per claim, section and condition
with the measured effect, its 95% CI and n, and a verdict. Never imports TensorFlow.

Verdicts: *supported* (the CI lies on the claimed side of zero and Holm's correction across the
claim rows keeps p < 0.05, or a level's CI inside the claimed range), *suggestive* (the CI alone),
*not supported* (the CI includes zero), *contradicted* (the CI lies on the other side, corrected,
or a level wholly outside the range), *not testable* (the condition's baseline underfits, or a
compared technique's trigger never fired: see `evidence`), *not measured* (with the reason: data
missing, not run yet, one seed, no learning-rate drop).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis import evidence
from regbench.analysis.claim_measures import MEASURES, compared
from regbench.analysis.stats import ALPHA, holm
from regbench.grid.claim_kinds import is_paired
from regbench.grid.labels import short_label
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
    "claimed",
    "testable",
    "verdict",
]


def evaluate(
    spec: GridSpec,
    cells: pd.DataFrame,
    history: pd.DataFrame,
    regime: pd.DataFrame | None = None,
    engagement: pd.DataFrame | None = None,
    data_dir=None,
) -> pd.DataFrame:
    """Columns: article, claim, setting ("cpu-sized (A-cpu)"), condition, compared (the sets, in
    short labels), measured (effect with 95% CI), n (seeds), claimed (the source's figure),
    testable ("yes", or "no: " and why), verdict. `cells` are the tuned arms; `regime` and
    `engagement` (evidence.regime, evidence.engagement) decide what is testable."""
    rows = []
    good = agg.ok(cells)
    for claim in spec.claims:
        for section in claim.sections or (None,):
            part = next(p for p in spec.parts() if p.section == section)
            setting = f"{part.setting} ({section})" if section else part.setting
            head = {"article": claim.article, "claim": claim.claim, "setting": setting, "claimed": claim.claimed}
            mine = good[good["section"] == section] if section else good
            measured = list(MEASURES[claim.kind](claim, mine, history)) if len(mine) else []
            measured = [judged(row, claim, regime, engagement) for row in measured]
            if not measured:
                stored = cells[cells["section"] == section] if section and len(cells) else cells
                why = unmeasured_reason(spec, part, stored, data_dir)
                measured = [{"condition": "-", "compared": compared(claim), "measured": "-", "n": 0, "testable": "-",
                             "verdict": why}]  # fmt: skip
            rows += [head | row for row in measured]
    return corrected(pd.DataFrame(rows))


def corrected(table: pd.DataFrame) -> pd.DataFrame:
    """The claims table under the report's significance rule: Holm's correction across every
    testable claim row with a p-value (one family); a verdict that the CI alone gives (supported,
    contradicted) without a corrected p below ALPHA is only suggestive. Level claims (a range, not
    a null hypothesis) have no p and keep their verdict."""
    if table.empty:
        return pd.DataFrame(columns=COLUMNS)
    p = table["p"] if "p" in table else pd.Series(np.nan, index=table.index)
    p = p.where(table["testable"].eq("yes"))
    table["p (Holm)"] = holm(p.tolist())
    for i, row in table.iterrows():
        adjusted = row["p (Holm)"]
        if row["verdict"] in ("supported", "contradicted") and math.isfinite(adjusted) and adjusted >= ALPHA:
            family = int(p.notna().sum())
            table.loc[i, "verdict"] = (
                f"suggestive: {row['verdict']} by the CI alone (Holm p {adjusted:.2f} across {family} claim rows)"
            )
    table["p (Holm)"] = [
        ("<0.001" if v < 0.001 else f"{v:.3f}") if math.isfinite(v) else "-" for v in table["p (Holm)"]
    ]
    return table[COLUMNS]


def judged(row: dict[str, Any], claim: Claim, regime: pd.DataFrame | None, engagement: pd.DataFrame | None) -> dict:
    """A measured row with its testable column, and the verdict replaced by "not testable" where
    a condition it rests on (`row["keys"]`) has an underfitting baseline or a compared set's
    trigger fired in no seed; a trigger that did not fire in every seed is
    noted beside the measurement."""
    keys = row.pop("keys")
    underfit = {}
    if regime is not None and len(regime):
        underfit = {tuple(r[c] for c in agg.CONDITION): r["reason"] for _, r in regime.iterrows() if not r["testable"]}
    sets = (claim.set, claim.against) if is_paired(claim.kind) else (claim.set,)
    idle, notes = {}, {}
    if engagement is not None and len(engagement):
        idle, notes = evidence.never_engaged(engagement), evidence.trigger_notes(engagement)
    why = [underfit[k] for k in keys if k in underfit] + [idle[(*k, s)] for k in keys for s in sets if (*k, s) in idle]
    partial = sorted(
        {f"{short_label(s)}: {notes[(*k, s)]}" for k in keys for s in sets if "never" in notes.get((*k, s), "") and (*k, s) not in idle}
    )  # fmt: skip
    if partial:
        row["measured"] += f" ({'; '.join(partial)})"
    if why:
        return row | {"testable": f"no: {why[0]}", "verdict": f"not testable: {why[0]}"}
    return row | {"testable": "yes"}


def missing_data(part: GridSpec, data_dir=None) -> list[str]:
    """The datasets of a grid or section whose files are not on this machine (looked up by name,
    never read: a report stays fast whatever the data's size)."""
    from regbench.train.datasets import get_dataset

    return [entry.name for entry in part.datasets if not get_dataset(entry.name).on_this_machine(data_dir)]


def not_run_reason(spec: GridSpec, part: GridSpec, data_dir=None) -> str:
    """'data missing (cifar10 not on this machine)', or 'not run yet (`regbench run ...`)'."""
    missing = missing_data(part, data_dir)
    if missing:
        return f"data missing ({', '.join(missing)} not on this machine)"
    where = f" --only '{part.section}/*'" if part.section else ""
    return f"not run yet (`regbench run {spec.name}{where}`)"


def unmeasured_reason(spec: GridSpec, part: GridSpec, stored: pd.DataFrame, data_dir) -> str:
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

"""Every comparison of a grid's arms, judged: against the baseline per condition, pooled per
technique set, factorial terms and leave-one-out contributions, each with whether its condition
can answer the question (analysis/evidence.py), whether it stands outside every family, and its
family's correction and verdict (analysis/families.py). Computed once: the claims and the report
read these tables and the trigger notes beside them. Never imports TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis import effects, evidence, families, pooled
from regbench.grid.spec import GridSpec

# The tables whose rows are judged in families, as the report's Method names them.
FAMILY_KINDS = ("pooled", "condition", "factorial", "leave-one-out")


class Judged(NamedTuple):
    regime: pd.DataFrame  # per condition: did the baseline overfit? (evidence.regime)
    engagement: pd.DataFrame  # per condition, set and trigger: seeds in which it fired
    effects: pd.DataFrame  # against the baseline, with testable, why_not, outside and the family columns
    pooled: pd.DataFrame  # each set's effect over the testable conditions (pool), with the family columns
    factorial: pd.DataFrame
    leave_one_out: pd.DataFrame
    underfit: dict[tuple, str]  # condition -> why its baseline cannot answer (evidence.underfit)
    never_engaged: dict[tuple, str]  # (*condition, set) -> the trigger that fired in no seed
    trigger_notes: dict[tuple, str]  # (*condition, set) -> whether its triggers fired (evidence.trigger_notes)
    family_sizes: dict[str, pd.Series]  # each of FAMILY_KINDS -> {family: its size}


def judge(spec: GridSpec, arms: pd.DataFrame, curves: pd.DataFrame) -> Judged:
    """The judged comparisons of `arms` (analysis/arms.py), whose learning curves are `curves`:
    first what each comparison measures, then whether it can answer, then each family corrected."""
    if arms.empty:
        empty = pd.DataFrame()
        return Judged(
            empty, empty, empty, empty, empty, empty, {}, {}, {}, dict.fromkeys(FAMILY_KINDS, pd.Series(dtype=int))
        )
    parts = spec.parts()
    factorial = per_section(parts, arms, "factorial", effects.factorial_effects)
    loo = per_section(parts, arms, "leave_one_out", effects.leave_one_out)
    table = effects.effects(arms)
    thresholds = {part.section: part.min_train_accuracy for part in parts}
    rules = {part.section: part.regime for part in parts}
    controls = {part.section or "": part.design.controls for part in parts}
    regime, engagement = evidence.regime(arms, thresholds, rules, curves), evidence.engagement(arms)
    unfit = evidence.underfit(regime)
    engaged = len(engagement) > 0
    idle, notes = (evidence.never_engaged(engagement), evidence.trigger_notes(engagement)) if engaged else ({}, {})
    table = evidence.judge(table, unfit, idle)
    if len(table):
        table = table.assign(outside=evidence.outside(table, controls, evidence.identical(arms)))
    factorial = evidence.judge(factorial, unfit, idle, "term") if len(factorial) else factorial
    loo = evidence.judge(loo, unfit, idle, "technique") if len(loo) else loo
    by_set = pool(table, arms)
    table = families.assign(table, families.condition_family)
    by_set = families.assign(by_set, families.pooled_family) if len(table) else by_set  # even with no set pooled
    factorial = families.assign(factorial, families.design_family("factorial")) if len(factorial) else factorial
    loo = families.assign(loo, families.design_family("leave one out")) if len(loo) else loo
    frames = zip(FAMILY_KINDS, (by_set, table, factorial, loo), strict=True)
    sizes = {kind: families.sizes(frame) for kind, frame in frames}
    return Judged(regime, engagement, table, by_set, factorial, loo, unfit, idle, notes, sizes)


def pool(table: pd.DataFrame, arms: pd.DataFrame) -> pd.DataFrame:
    """Each technique set's effect on every metric, pooled over the testable conditions of its
    section (a section is a setup of its own) where it is not a control or a repeat of another set
    (analysis/pooled.py), and the median training-time ratio to the baseline (train_time_s, else
    wall_time_s). Columns: section, metric, technique_set, Pooled's fields, time_ratio."""
    if table.empty:
        return pd.DataFrame()
    usable = table[table["testable"] & (table["outside"] == "")]
    frame = pooled.pool_by_technique(usable, ["section", "metric", "technique_set"])
    frame = frame[frame["conditions"] > 0]
    ok = agg.ok(arms)  # training time (steps, not set-up or compiling) where every cell has it
    seconds = "train_time_s" if "train_time_s" in ok and ok["train_time_s"].notna().all() else "wall_time_s"
    wall = ok.groupby([*agg.CONDITION, "technique_set"])[seconds].mean()
    ratios = {}
    for key, group in usable[usable["metric"] == effects.PRIMARY].groupby(["section", "technique_set"]):
        found = [
            wall.get((*c, key[1]), np.nan) / wall.get((*c, agg.BASELINE), np.nan)
            for c in group[agg.CONDITION].itertuples(index=False)
        ]
        ratios[key] = float(np.nanmedian(found)) if np.isfinite(found).any() else np.nan
    keys = zip(frame["section"], frame["technique_set"], strict=True)
    return frame.assign(time_ratio=[ratios.get(k, np.nan) for k in keys])


def per_section(parts: list[GridSpec], cells: pd.DataFrame, part_of_design: str, analyse: Callable) -> pd.DataFrame:
    """`analyse(cells, techniques)` for the design's `factorial` or `leave_one_out` techniques, per
    section (`parts`: spec.parts()) with its own techniques (Holm's correction within each section)."""
    frames = []
    for part in parts:
        mine = cells[cells["section"] == part.section] if part.section and len(cells) else cells
        techniques = getattr(part.design, part_of_design)
        if techniques and len(mine):
            frames.append(analyse(mine, techniques))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

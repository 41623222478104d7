"""What was read of a grid (analysis/inputs.Inputs) -> everything its report shows, computed once
(Analysis): the cells, the tuned arms, learning curves, the regime and trigger checks, effects,
factorial and leave-one-out analyses, sweeps, rankings, claims and their tallies, the technique
overview, and why cells or sections are missing. The report only renders this value; nothing here
opens a file. Never imports TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis import arms as arms_of
from regbench.analysis import claims, effects, evidence, families, pooled
from regbench.analysis.inputs import Inputs
from regbench.analysis.labels import dataset_labels
from regbench.grid.cell import Cell
from regbench.grid.spec import GridSpec


@dataclass(frozen=True)
class Analysis:
    cells: pd.DataFrame  # every stored cell of the grid (ok and failed, every candidate)
    arms: pd.DataFrame  # the cell each seed of each set is judged at (analysis/arms.py): what is compared
    history: pd.DataFrame
    curves: pd.DataFrame  # learning curves of the arms over seeds (aggregate.curves)
    choice: pd.DataFrame  # per condition, set and seed: the candidate chosen, how, edges, optimism
    tuning: pd.DataFrame  # per condition and set with several candidates: the choice (arms.tuning_table)
    regime: pd.DataFrame  # per condition: did the baseline overfit? (evidence.regime)
    engagement: pd.DataFrame  # per condition, set and trigger: seeds in which it fired
    summary: pd.DataFrame
    effects: pd.DataFrame  # against the baseline, with testable, why_not, outside and the family columns
    pooled: pd.DataFrame  # each set's effect over the testable conditions (pooled), with the family columns
    factorial: pd.DataFrame
    leave_one_out: pd.DataFrame
    ranking: pd.DataFrame  # effects.ranking, with `data`: each condition's data for display
    sweeps: pd.DataFrame  # effects of the sets of each [[design.sweeps]], keyed by the swept value
    claims: pd.DataFrame  # each [[claims]] row tested: measured effect, n, verdict (claims.evaluate)
    missing: list[Cell]  # grid cells without a stored result, by id
    pending: int  # evaluation cells waiting for their tuning cells ([tuning] seeds)
    ignored: int  # stored results that are not cells of this grid
    environment: str  # library versions seen in the results, e.g. "keras 3.15.1, python 3.11.7"
    trigger_notes: dict[tuple, str]  # (*condition, set) -> whether its triggers fired (evidence.trigger_notes)
    claim_tally: str  # "7 supported, 5 suggestive, ..." over the claims table's rows
    article_tallies: dict[str, str]  # article -> its rows' tally
    not_run: dict[str, str]  # section -> why its missing cells are missing ("not run yet", "data missing (...)")


def collect(inputs: Inputs) -> Analysis:
    """Everything the report shows, computed from what was read (analysis/inputs.read_inputs)."""
    spec, cells, history = inputs.spec, inputs.cells, inputs.history
    expected = {c.cell_id: c for c in inputs.expansion.cells}
    tuning_seeds = {p.section or "": p.tuning.seeds for p in spec.parts()}
    choice = arms_of.choose(cells, tuning_seeds) if len(cells) else pd.DataFrame()
    arms = arms_of.arms(cells, choice)
    curves = agg.curves(history, arms) if len(arms) else pd.DataFrame()
    judged = judge(spec, arms, curves)
    claim_table = (
        claims.evaluate(spec, arms, history, judged.regime, judged.engagement, judged.effects)
        if spec.claims else pd.DataFrame()
    )  # fmt: skip
    stored = inputs.stored
    missing = [expected[i] for i in sorted(expected.keys() - stored)]
    return Analysis(
        cells=cells,
        arms=arms,
        history=history,
        curves=curves,
        choice=choice,
        tuning=arms_of.tuning_table(cells, choice, tuning_seeds) if len(choice) else pd.DataFrame(),
        regime=judged.regime,
        engagement=judged.engagement,
        summary=agg.summary(arms) if len(arms) else pd.DataFrame(),
        effects=judged.effects,
        pooled=judged.pooled,
        sweeps=effects.sweep_effects(judged.effects, sweep_points(spec, expected.values())),
        factorial=judged.factorial,
        leave_one_out=judged.leave_one_out,
        ranking=ranking(arms),
        claims=claim_table,
        missing=missing,
        pending=sum(len(p.seeds) for p in inputs.expansion.pending),
        ignored=len(stored - expected.keys()),
        environment=inputs.environment,
        trigger_notes=evidence.trigger_notes(judged.engagement) if len(judged.engagement) else {},
        claim_tally=claims.tally(claim_table) if len(claim_table) else "",
        article_tallies={a: claims.tally(rows) for a, rows in claim_table.groupby("article", sort=True)}
        if len(claim_table)
        else {},
        not_run=not_run(spec, cells, missing),
    )


class Judged(NamedTuple):
    regime: pd.DataFrame
    engagement: pd.DataFrame
    effects: pd.DataFrame
    pooled: pd.DataFrame
    factorial: pd.DataFrame
    leave_one_out: pd.DataFrame


def judge(spec: GridSpec, arms: pd.DataFrame, curves: pd.DataFrame) -> Judged:
    """Every comparison of the arms, with whether its condition can answer the question (regime,
    triggers), whether it stands outside every family (controls, identical arms), and its family's
    correction and verdict (analysis/families.py)."""
    if arms.empty:
        empty = pd.DataFrame()
        return Judged(empty, empty, empty, empty, empty, empty)
    thresholds = {part.section: part.min_train_accuracy for part in spec.parts()}
    rules = {part.section: part.regime for part in spec.parts()}
    regime, engagement = evidence.regime(arms, thresholds, rules, curves), evidence.engagement(arms)
    controls = {part.section or "": part.design.controls for part in spec.parts()}
    table = evidence.judge(effects.effects(arms), regime, engagement)
    if len(table):
        table = table.assign(outside=evidence.outside(table, controls, evidence.identical(arms)))
    table = families.assign(table, families.condition_family)
    factorial = per_section(spec, arms, "factorial", effects.factorial_effects)
    loo = per_section(spec, arms, "leave_one_out", effects.leave_one_out)
    factorial = (
        families.assign(evidence.judge(factorial, regime, engagement, "term"), families.design_family("factorial"))
        if len(factorial)
        else factorial
    )
    loo = (
        families.assign(evidence.judge(loo, regime, engagement, "technique"), families.design_family("leave one out"))
        if len(loo)
        else loo
    )
    return Judged(regime, engagement, table, pool(table, arms), factorial, loo)


def pool(table: pd.DataFrame, arms: pd.DataFrame) -> pd.DataFrame:
    """Each technique set's effect on every metric, pooled over the testable conditions of its
    section (a section is a setup of its own) where it is not a control or a repeat of another set
    (analysis/pooled.py), with the pooled family's correction on test accuracy (one family per
    section) and the median training-time ratio to the baseline (train_time_s, else wall_time_s).
    Columns: section, metric, technique_set, Pooled's fields, time_ratio, then families.FAMILY_COLUMNS."""
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
    frame = frame.assign(time_ratio=[ratios.get(k, np.nan) for k in keys])
    return families.assign(
        frame, lambda r: f"pooled {r['section']}".strip() if r["metric"] == effects.PRIMARY else None
    )


def ranking(arms: pd.DataFrame) -> pd.DataFrame:
    """effects.ranking of the arms, with each condition's data for display (labels.dataset_labels)
    in a last column, `data`."""
    if arms.empty:
        return pd.DataFrame()
    table = effects.ranking(arms)
    return table.assign(data=dataset_labels(table)) if len(table) else table


def not_run(spec: GridSpec, cells: pd.DataFrame, missing: list[Cell]) -> dict[str, str]:
    """{section: why its missing cells are missing}: "not run yet" where some of its cells are
    stored, else the data is not on this machine or the section was never run."""
    sections = {cell.section for cell in missing}
    out = {}
    for part in spec.sections:
        if part.section in sections:
            started = len(cells) and (cells["section"] == part.section).any()
            out[part.section] = "not run yet" if started else claims.not_run_reason(spec, part)
    return out


def per_section(spec: GridSpec, cells: pd.DataFrame, part_of_design: str, analyse: Callable) -> pd.DataFrame:
    """`analyse(cells, techniques)` for the design's `factorial` or `leave_one_out` techniques, per
    section with its own techniques (Holm's correction within each section)."""
    frames = []
    for part in spec.parts():
        mine = cells[cells["section"] == part.section] if part.section and len(cells) else cells
        techniques = getattr(part.design, part_of_design)
        if techniques and len(mine):
            frames.append(analyse(mine, techniques))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def sweep_points(spec: GridSpec, cells) -> dict[str, tuple[str, Any]]:
    """{set label: (sweep name, value)} of every [[design.sweeps]] point, e.g.
    "batchnorm+dropout(rate=0.25)" -> ("dropout.rate with batchnorm", 0.25)."""
    points = {}
    for section, sweep in ((p.section, sweep) for p in spec.parts() for sweep in p.design.sweeps):
        name = f"{sweep.technique}.{sweep.param}" + (f" with {'+'.join(sweep.with_)}" if sweep.with_ else "")
        members = {sweep.technique, *sweep.with_}
        for cell in (c for c in cells if c.section == section):
            params = dict(cell.techniques)
            if set(params) == members and dict(params[sweep.technique])[sweep.param] in sweep.values:
                points[cell.technique_set] = (name, dict(params[sweep.technique])[sweep.param])
    return points

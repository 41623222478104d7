"""What was read of a grid (analysis/inputs.Inputs) -> everything its report shows, computed once
(Analysis): the cells, the tuned arms, learning curves, the regime and trigger checks, effects,
factorial and leave-one-out analyses, sweeps, rankings, claims and their tallies, the technique
overview, and why cells or sections are missing. The report only renders this value; nothing here
opens a file. Never imports TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis import arms as arms_of
from regbench.analysis import claims, effects, verdicts
from regbench.analysis.inputs import Inputs
from regbench.analysis.missing import not_run
from regbench.grid.cell import Cell


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
    ranking: pd.DataFrame  # effects.ranking: per condition, the best set and the sets tied with it
    sweeps: pd.DataFrame  # effects of the sets of each [[design.sweeps]], keyed by the swept value
    claims: pd.DataFrame  # each [[claims]] row tested: measured effect, n, verdict (claims.evaluate)
    missing: list[Cell]  # grid cells without a stored result, by id
    pending: int  # evaluation cells waiting for their tuning cells ([tuning] seeds)
    ignored: int  # stored results that are not cells of this grid
    environment: str  # library versions seen in the results, e.g. "keras 3.15.1, python 3.11.7"
    trigger_notes: dict[tuple, str]  # (*condition, set) -> whether its triggers fired (evidence.trigger_notes)
    family_sizes: dict[str, pd.Series]  # "pooled", "condition", "factorial", "leave-one-out" -> {family: size}
    claim_tally: str  # "7 supported, 5 suggestive, ..." over the claims table's rows
    article_tallies: dict[str, str]  # article -> its rows' tally
    not_run: dict[str, str]  # section -> why its missing cells are missing ("not run yet", "data missing (...)")


def collect(inputs: Inputs) -> Analysis:
    """Everything the report shows, computed from what was read (analysis/inputs.read_inputs)."""
    spec, cells, history = inputs.spec, inputs.cells, inputs.history
    expected = {c.cell_id: c for c in inputs.expansion.cells}
    missing = [expected[i] for i in sorted(expected.keys() - inputs.stored)]
    tuning_seeds = {p.section or "": p.tuning.seeds for p in spec.parts()}
    choice = arms_of.choose(cells, tuning_seeds) if len(cells) else pd.DataFrame()
    arms = arms_of.arms(cells, choice)
    curves = agg.curves(history, arms) if len(arms) else pd.DataFrame()
    judged = verdicts.judge(spec, arms, curves)
    claim_table = claims.evaluate(spec, arms, history, judged) if spec.claims else pd.DataFrame()
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
        sweeps=effects.sweep_effects(judged.effects, effects.sweep_points(spec, expected.values())),
        factorial=judged.factorial,
        leave_one_out=judged.leave_one_out,
        ranking=effects.ranking(arms) if len(arms) else pd.DataFrame(),
        claims=claim_table,
        missing=missing,
        pending=sum(len(p.seeds) for p in inputs.expansion.pending),
        ignored=len(inputs.stored - expected.keys()),
        environment=inputs.environment,
        trigger_notes=judged.trigger_notes,
        family_sizes=judged.family_sizes,
        claim_tally=claims.tally(claim_table) if len(claim_table) else "",
        article_tallies={a: claims.tally(rows) for a, rows in claim_table.groupby("article", sort=True)}
        if len(claim_table)
        else {},
        not_run=not_run(spec, cells, missing),
    )

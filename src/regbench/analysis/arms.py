"""The arm each seed is judged at: where a technique set ran at several candidates (learning rates
times [tune.*] doses), the candidate with the best mean *validation* accuracy, never test accuracy
and never the seed being judged (Google's tuning playbook; cross-fitting):

- **cross-fitting** (the default): seed s is scored at the candidate that the *other* seeds prefer;
- **tuning seeds** ([tuning] seeds): the tuning seeds choose, the evaluation seeds are scored;
- a set with one candidate is its own arm.

The baseline is chosen the same way. Besides the choice, each row keeps what same-seed selection
(choosing on every seed, the one judged included) would have chosen and the test accuracy that
choice would have added: the optimism cross-fitting removes. Never imports TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from regbench.analysis.aggregate import CONDITION, ok
from regbench.grid.tuning import Candidate, at_edge, best, sort_key

CHOICE_COLUMNS = [
    *CONDITION, "technique_set", "seed", "cell_id", "candidate", "candidates", "how", "edge", "same_seed",
    "optimism",
]  # fmt: skip


def candidate_of(row) -> Candidate:
    """The candidate of a cells-frame row."""
    doses = getattr(row, "doses", ())
    return Candidate(float(row.learning_rate), tuple(doses) if isinstance(doses, tuple) else ())


def ordered(candidates: Collection[Candidate]) -> list[Candidate]:
    """Candidates in grid order: rate ascending, then doses (ties go to the first)."""
    return sorted(candidates, key=lambda c: (c.learning_rate, tuple(sort_key(v) for _, _, v in c.doses)))


def choose(cells: pd.DataFrame, tuning_seeds: Mapping[str, Collection[int]]) -> pd.DataFrame:
    """One row per condition, technique set and evaluation seed: the cell it is judged at. Columns:
    the CONDITION columns, technique_set, seed, cell_id, candidate (its label), candidates (how
    many were tried), how ("cross-fitted on the other seeds", "chosen by tuning seeds 11, 12", "one
    candidate", "one seed: chosen on itself"), edge ("" or "the largest rate; ..."), same_seed (the
    label same-seed selection picks), optimism (test accuracy of same_seed minus of candidate, at
    this seed; 0 where they agree, NaN where not applicable). `tuning_seeds`: {section: seeds}."""
    rows = []
    good = ok(cells)
    for key, group in good.groupby([*CONDITION, "technique_set"], sort=True):
        by = {(int(r.seed), candidate_of(r)): r for r in group.itertuples(index=False)}
        order = ordered({c for _, c in by})
        tuners = set(tuning_seeds.get(key[0] or "", ()))
        seeds = sorted({s for s, _ in by} - tuners)

        def scores(use: Collection[int], by=by, order=order) -> dict[Candidate, list[float]]:
            return {c: [by[s, c].val_accuracy for s in use if (s, c) in by] for c in order}

        if tuners:
            pick = best(scores(tuners), order)
            picks = {s: (pick, f"chosen by tuning seeds {', '.join(map(str, sorted(tuners)))}") for s in seeds}
        elif len(order) == 1:
            picks = {s: (order[0], "one candidate") for s in seeds}
        else:
            picks = {s: cross_fitted(s, seeds, scores, order) for s in seeds}
        same = best(scores(seeds), order) if len(order) > 1 and not tuners else None
        for seed, (pick, how) in picks.items():
            if pick is None or (seed, pick) not in by:
                continue  # its cell at the chosen candidate failed or is missing: no arm this seed
            test = by[seed, pick].test_accuracy
            optimism = by[seed, same].test_accuracy - test if same is not None and (seed, same) in by else math.nan
            rows.append(
                (*key, seed, by[seed, pick].cell_id, pick.label(), len(order), how, "; ".join(at_edge(pick, order)),
                 same.label() if same is not None else "", optimism)
            )  # fmt: skip
    return pd.DataFrame(rows, columns=CHOICE_COLUMNS)


def cross_fitted(seed: int, seeds: list[int], scores, order: list[Candidate]) -> tuple[Candidate | None, str]:
    """The candidate the seeds other than `seed` prefer; a lone seed can only choose on itself."""
    others = [s for s in seeds if s != seed]
    if not others:
        return best(scores([seed]), order), "one seed: chosen on itself"
    return best(scores(others), order), "cross-fitted on the other seeds"


def arms(cells: pd.DataFrame, choice: pd.DataFrame) -> pd.DataFrame:
    """The cells each seed of each set is judged at: what every comparison uses."""
    if cells.empty or choice.empty:
        return cells.iloc[:0] if len(cells) and choice.empty and "learning_rate" in cells else cells
    return cells[cells["cell_id"].isin(choice["cell_id"])]


def tuning_table(
    cells: pd.DataFrame, choice: pd.DataFrame, tuning_seeds: Mapping[str, Collection[int]]
) -> pd.DataFrame:
    """Per condition and technique set that had several candidates: what was chosen and how.
    Columns: the CONDITION columns, technique_set, candidates, how, chosen ("lr 0.003 (3/3 seeds)"
    or one entry per candidate chosen, with its seeds), edge ("4/5 seeds at the largest rate; 1/5
    seeds at the smallest rate": seeds whose choice lies at an edge, per edge), same_seed, changed
    (seeds whose choice differs from same-seed selection), optimism (mean over seeds, test
    accuracy), tried ("lr 0.001: 91.2%, lr 0.003: 92.0%": mean validation accuracy per candidate
    over the seeds that chose: the tuning seeds where the grid has them, else every seed).
    `tuning_seeds`: {section: seeds}."""
    columns = [*CONDITION, "technique_set", "candidates", "how", "chosen", "edge", "same_seed", "changed",
               "optimism", "tried"]  # fmt: skip
    rows = []
    good = ok(cells)

    def choosers(key: tuple, part: list) -> list:
        tuners = set(tuning_seeds.get(key[0] or "", ()))
        return [r for r in part if int(r.seed) in tuners] if tuners else part

    tried_by = {
        key: ", ".join(
            f"{c.label()}: {100 * np.mean([r.val_accuracy for r in part if candidate_of(r) == c]):.1f}%"
            for c in ordered({candidate_of(r) for r in part})
        )
        for key, part in (
            (k, choosers(k, list(g.itertuples(index=False)))) for k, g in good.groupby([*CONDITION, "technique_set"])
        )
    }
    for key, group in choice[choice["candidates"] > 1].groupby([*CONDITION, "technique_set"], sort=True):
        counts = group["candidate"].value_counts()
        chosen = "; ".join(f"{c} ({n}/{len(group)} seeds)" for c, n in counts.items())
        # seeds split between both ends (some at the smallest rate, some at the largest) say each
        edges = sorted(group.loc[group["edge"] != "", "edge"].value_counts().items(), key=lambda e: (-e[1], e[0]))
        edge = "; ".join(f"{n}/{len(group)} seeds at {where}" for where, n in edges)
        same = group["same_seed"].iloc[0]
        changed = int((group["same_seed"] != group["candidate"]).sum()) if same else 0
        tried = tried_by.get(key, "")
        rows.append((*key, int(group["candidates"].iloc[0]), group["how"].iloc[0], chosen, edge, same, changed,
                     float(np.nanmean(group["optimism"])) if group["optimism"].notna().any() else math.nan, tried))  # fmt: skip
    return pd.DataFrame(rows, columns=columns)

"""Paired effects across seeds: each technique set against the baseline of the same condition and
seed, main effects and interactions of factorial designs, leave-one-out contributions, sweeps, and
a ranking. Rows carry the estimate (mean, 95% t interval, sd, n, raw p); which comparisons share a
multiple-comparison correction, and the verdicts, are decided in analysis/families.py. Never
imports TensorFlow.

Test accuracy is the primary endpoint (verdicts are on it); the accuracy gap is decomposed into
its train and test parts (Δ gap = Δ train - Δ test), so a technique that shrinks the gap by fitting
the training set less reads differently from one that generalizes better.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from regbench.analysis.aggregate import BASELINE, CONDITION, ok
from regbench.analysis.labels import dataset_labels
from regbench.analysis.stats import crosses_zero, mean_ci, paired_effect
from regbench.grid.cell import Cell
from regbench.grid.spec import GridSpec

PRIMARY = "test_accuracy"
# Metrics an effect is measured on: the primary endpoint, the gap and its train part, the loss gap.
EFFECT_METRICS = (PRIMARY, "accuracy_gap", "train_accuracy", "loss_gap")


def by_seed(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Wide table: index (condition..., seed), one column per technique set."""
    return ok(cells).pivot_table(index=[*CONDITION, "seed"], columns="technique_set", values=metric, aggfunc="first")


def contrast(per_seed: pd.Series | np.ndarray, keys: dict[str, Any]) -> dict[str, Any]:
    return keys | paired_effect(per_seed)._asdict()


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The contrasts, with `distinguishable` (the 95% CI excludes 0)."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["distinguishable"] = [not crosses_zero(lo, hi) for lo, hi in zip(frame["low"], frame["high"], strict=True)]
    return frame


def effects(cells: pd.DataFrame) -> pd.DataFrame:
    """Each technique set minus the baseline of the same condition and seed. Columns: metric, the
    CONDITION columns, technique_set, mean, low, high (95% CI), n (paired seeds), sd, p (paired
    t-test), distinguishable."""
    rows = []
    for metric in EFFECT_METRICS:
        wide = by_seed(cells, metric)
        if BASELINE not in wide.columns:
            continue
        for condition, group in wide.groupby(level=CONDITION, sort=True):
            for technique_set in sorted(c for c in group.columns if c != BASELINE):
                diff = (group[technique_set] - group[BASELINE]).dropna()
                if len(diff):
                    keys = {"metric": metric} | dict(zip(CONDITION, condition, strict=True))
                    rows.append(contrast(diff, keys | {"technique_set": technique_set}))
    return frame_of(rows)


def labels_by_members(cells: pd.DataFrame) -> dict[frozenset[str], str]:
    """{frozenset of technique names: the set's label} of the cells (the label shows a swept value,
    the members never do)."""
    return {frozenset(m): label for label, m in zip(cells["technique_set"], cells["members"], strict=True)}


def sets_by_seed(cells: pd.DataFrame) -> Iterator[tuple[str, tuple, pd.DataFrame, dict[frozenset, str]]]:
    """(metric, condition, seed x set table, {members: set label} of the sets in it) per effect
    metric and condition."""
    label = labels_by_members(ok(cells))
    for metric in EFFECT_METRICS:
        for condition, group in by_seed(cells, metric).groupby(level=CONDITION, sort=True):
            yield metric, condition, group, {m: name for m, name in label.items() if name in group.columns}


def factorial_effects(cells: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    """Main effects and two-way interactions of a factorial design, per condition, over seeds.

    Main effect of A (per seed) = mean of y over sets with A - mean over sets without A.
    Interaction of A and B (per seed) = mean over the other factors' levels of
    y(A,B) - y(A) - y(B) + y(neither): how much the pair does beyond the sum of each alone.
    Columns: metric, the CONDITION columns, term ("dropout" or "batchnorm x dropout"),
    kind (main | interaction), n, mean, low, high, sd, p, distinguishable."""
    rows = []
    for metric, condition, group, label in sets_by_seed(cells):
        present = [f for f in factors if any(f in m for m in label)]
        subsets = [frozenset(s) for r in range(len(present) + 1) for s in combinations(present, r)]
        names = [label.get(s) for s in subsets]
        if not present or not all(n in group.columns for n in names):
            continue
        y = group[names].dropna()  # seeds with every subset stored
        if y.empty:
            continue
        # Plain arrays: pandas column selection by frozenset labels was most of the time.
        column = {subset: y[name].to_numpy(dtype=float) for subset, name in zip(subsets, names, strict=True)}
        keys = {"metric": metric} | dict(zip(CONDITION, condition, strict=True))
        for a in present:
            with_a = np.mean([column[s] for s in subsets if a in s], axis=0)
            without_a = np.mean([column[s] for s in subsets if a not in s], axis=0)
            rows.append(contrast(with_a - without_a, keys | {"term": a, "kind": "main"}))
        for a, b in combinations(present, 2):
            others = [s for s in subsets if a not in s and b not in s]
            terms = [column[s | {a, b}] - column[s | {a}] - column[s | {b}] + column[s] for s in others]
            rows.append(contrast(np.mean(terms, axis=0), keys | {"term": f"{a} x {b}", "kind": "interaction"}))
    return frame_of(rows)


def leave_one_out(cells: pd.DataFrame, members: Sequence[str]) -> pd.DataFrame:
    """Contribution of each technique to the all-on recipe: y(all) - y(all without it), per seed.
    Columns: metric, the CONDITION columns, technique, n, mean, low, high, sd, p, distinguishable."""
    rows = []
    for metric, condition, group, label in sets_by_seed(cells):
        present = [m for m in members if any(m in s for s in label)]
        full = label.get(frozenset(present))
        if len(present) < 2 or full not in group.columns:
            continue
        for technique in present:
            without = label.get(frozenset(present) - {technique})
            if without in group.columns:
                diff = (group[full] - group[without]).dropna()
                keys = {"metric": metric} | dict(zip(CONDITION, condition, strict=True)) | {"technique": technique}
                rows.append(contrast(diff, keys))
    return frame_of(rows)


def ranking(cells: pd.DataFrame) -> pd.DataFrame:
    """Per condition: the set with the best mean test accuracy and the one with the smallest
    accuracy gap, each with the sets that cannot be told apart from the winner: the 95% CI of
    their paired difference (per seed) includes zero. Columns: the CONDITION columns,
    best_test_accuracy, tied_test_accuracy, smallest_gap, tied_gap, data (each condition's data
    for display: labels.dataset_labels)."""
    rows = []
    for metric, prefix, best_is_max in (("test_accuracy", "test_accuracy", True), ("accuracy_gap", "gap", False)):
        for condition, wide in by_seed(cells, metric).groupby(level=CONDITION, sort=True):
            wide = wide.dropna(axis=1, how="all")
            means = wide.mean().sort_index()
            best = (means.idxmax() if best_is_max else means.idxmin()) if len(means) else None
            tied = [
                s for s in means.index if s != best and crosses_zero(*mean_ci((wide[s] - wide[best]).dropna())[1:3])
            ]
            winner = "best_test_accuracy" if best_is_max else "smallest_gap"
            rows.append(
                dict(zip(CONDITION, condition, strict=True)) | {winner: best, f"tied_{prefix}": ", ".join(tied)}
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    columns = ["best_test_accuracy", "tied_test_accuracy", "smallest_gap", "tied_gap"]
    frame = frame.groupby(CONDITION, sort=True).first().reset_index()[[*CONDITION, *columns]]
    return frame.assign(data=dataset_labels(frame))


def sweep_effects(effects: pd.DataFrame, points: dict[str, tuple[str, Any]]) -> pd.DataFrame:
    """The effects (against the baseline) of a sweep's sets, keyed by the swept value. `points`
    maps a set label to (sweep name, value), e.g. "dropout(rate=0.25)" -> ("dropout.rate", 0.25):
    sweep_points. Columns: sweep, value, then those of `effects`."""
    if effects.empty or not points:
        return pd.DataFrame()
    part = effects[effects["technique_set"].isin(points.keys())].copy()
    part.insert(0, "value", [points[s][1] for s in part["technique_set"]])
    part.insert(0, "sweep", [points[s][0] for s in part["technique_set"]])
    return part.sort_values(["sweep", "metric", *CONDITION, "value"], ignore_index=True)


def sweep_points(spec: GridSpec, cells: Iterable[Cell]) -> dict[str, tuple[str, Any]]:
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

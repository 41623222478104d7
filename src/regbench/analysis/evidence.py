"""Is the evidence fit to answer the gap question? Tuned arms (each technique set at the learning
rate validation prefers), the regime check (did the baseline overfit?) and whether techniques
with a trigger engaged. Never imports TensorFlow.

- **Tuned arms**: with several learning rates per cell, each technique set of a condition keeps the
  rate with the best mean validation accuracy across seeds (never test accuracy); the baseline is
  tuned the same way, and effects compare tuned arms (Google's deep learning tuning playbook).
- **Regime**: the gap question is testable only where the (tuned) baseline fits its training set:
  its mean clean train accuracy must reach the grid's `min_train_accuracy`.
- **Engagement**: early stopping that never stopped, a plateau schedule that never reduced the
  rate, a checkpoint that restored the last evaluation did nothing; say so, not "no effect".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from regbench.analysis.aggregate import BASELINE, CONDITION, ok
from regbench.analysis.stats import mean_ci

TRIGGERED = "_triggered"  # suffix of the cells frame's columns <technique>_triggered


def choose_rates(cells: pd.DataFrame) -> pd.DataFrame:
    """The learning rate of each technique set in each condition: the one with the best mean
    validation accuracy over its ok seeds (ties: the smaller rate). Columns: dataset, train_size,
    model, technique_set, learning_rate (chosen), rates (how many were tried), val_accuracy (the
    chosen rate's mean), tried ("0.001: 91.2%, 0.003: 92.0%")."""
    columns = [*CONDITION, "technique_set", "learning_rate", "rates", "val_accuracy", "tried"]
    good = ok(cells)
    if good.empty:
        return pd.DataFrame(columns=columns)
    means = good.groupby([*CONDITION, "technique_set", "learning_rate"], sort=True)["val_accuracy"].mean()
    rows = []
    for key, per_rate in means.groupby(level=[*CONDITION, "technique_set"], sort=True):
        rates = per_rate.droplevel([*CONDITION, "technique_set"])
        # Ties go to the smaller rate: sort by (-mean, rate); NaN means sort last.
        order = sorted(rates.items(), key=lambda kv: (-kv[1] if np.isfinite(kv[1]) else np.inf, kv[0]))
        tried = ", ".join(f"{rate:g}: {100 * acc:.1f}%" for rate, acc in rates.items())
        rows.append(dict(zip(columns, (*key, order[0][0], len(rates), order[0][1], tried), strict=True)))
    return pd.DataFrame(rows, columns=columns)


def tuned(cells: pd.DataFrame, choice: pd.DataFrame) -> pd.DataFrame:
    """The cells (ok and failed) of each technique set at its chosen learning rate: every
    analysis compares these arms. With one rate per cell, all cells."""
    if cells.empty or choice.empty:
        return cells
    keys = [*CONDITION, "technique_set", "learning_rate"]
    chosen = cells.merge(choice[keys], on=keys, how="inner")["cell_id"]
    return cells[cells["cell_id"].isin(chosen)]


def regime(arms: pd.DataFrame, thresholds: dict[Any, float]) -> pd.DataFrame:
    """Per condition of the tuned arms: did the baseline overfit? Columns: the CONDITION columns,
    n (baseline seeds), train_accuracy, test_accuracy (baseline means),
    gap_mean, gap_low, gap_high (its accuracy gap, 95% CI), threshold, testable (bool), reason
    ("" or "baseline underfits (train 0.761 < 0.99)" or "no baseline")."""
    rows = []
    good = ok(arms)
    for key, group in good.groupby(CONDITION, sort=True):
        row = dict(zip(CONDITION, key, strict=True))
        threshold = thresholds.get(row["section"] or None, thresholds.get(None, 0.99))  # "": no sections
        base = group[group["technique_set"] == BASELINE]
        row |= {"n": len(base), "threshold": threshold}
        if base.empty:
            rows.append(row | {"testable": False, "reason": "no baseline in this condition to check the regime"})
            continue
        train, test = base["train_accuracy"].mean(), base["test_accuracy"].mean()
        gap, low, high, _ = mean_ci(base["accuracy_gap"].to_numpy(dtype=float))
        testable = bool(train >= threshold)
        reason = "" if testable else f"baseline underfits (train {train:.3f} < {threshold:g})"
        rows.append(row | {"train_accuracy": train, "test_accuracy": test, "gap_mean": gap, "gap_low": low,
                           "gap_high": high, "testable": testable, "reason": reason})  # fmt: skip
    return pd.DataFrame(rows)


def engagement(arms: pd.DataFrame) -> pd.DataFrame:
    """Per condition, technique set and technique with a trigger: in how many ok seeds it fired.
    Columns: the CONDITION columns, technique_set, technique, triggered, n."""
    columns = [*CONDITION, "technique_set", "technique", "triggered", "n"]
    good = ok(arms)
    flags = [c for c in good.columns if c.endswith(TRIGGERED)]
    rows = []
    for key, group in good.groupby([*CONDITION, "technique_set"], sort=True):
        for flag in flags:
            fired = group[flag].dropna()
            if len(fired):
                rows.append((*key, flag[: -len(TRIGGERED)], int(fired.astype(bool).sum()), len(fired)))
    return pd.DataFrame(rows, columns=columns)


def trigger_notes(table: pd.DataFrame) -> dict[tuple, str]:
    """{(*condition, technique_set): "early_stopping never triggered in 1/3 seeds;
    reduce_lr_on_plateau triggered in 3/3 seeds"} for every set with a trigger technique."""
    notes: dict[tuple, list[str]] = {}
    for r in table.itertuples(index=False):
        key = set_key(r)
        text = (
            f"triggered in {r.n}/{r.n} seeds"
            if r.triggered == r.n
            else f"never triggered in {r.n - r.triggered}/{r.n} seeds"
        )
        notes.setdefault(key, []).append(f"{r.technique} {text}")
    return {key: "; ".join(parts) for key, parts in notes.items()}


def set_key(row: Any) -> tuple:
    """(*condition, technique_set) of a row of the engagement table (a named tuple)."""
    return (*(getattr(row, c) for c in CONDITION), row.technique_set)


def never_engaged(table: pd.DataFrame) -> dict[tuple, str]:
    """{(*condition, technique_set): "early_stopping never triggered (0/3 seeds)"} for the sets
    where some trigger fired in no seed at all: such an effect measures nothing."""
    out: dict[tuple, list[str]] = {}
    for r in table[table["triggered"] == 0].itertuples(index=False):
        out.setdefault(set_key(r), []).append(f"{r.technique} never triggered (0/{r.n} seeds)")
    return {key: "; ".join(parts) for key, parts in out.items()}


def judge(
    effects: pd.DataFrame, regime_table: pd.DataFrame, engaged: pd.DataFrame, label: str = "technique_set"
) -> pd.DataFrame:
    """`effects` (one row per metric, condition and `label`: a set, a factorial term, a left-out
    technique) with two more columns: testable (bool) and why_not ("" or the reason: the baseline
    underfits, or, for a set, a trigger that never fired)."""
    if effects.empty:
        return effects.assign(testable=pd.Series(dtype=bool), why_not=pd.Series(dtype=str))
    underfit = {tuple(r[c] for c in CONDITION): r["reason"] for _, r in regime_table.iterrows() if not r["testable"]}
    idle = never_engaged(engaged) if label == "technique_set" and len(engaged) else {}
    why = [
        underfit.get(tuple(r[: len(CONDITION)])) or idle.get(tuple(r), "")
        for r in effects[[*CONDITION, label]].itertuples(index=False)
    ]
    return effects.assign(testable=[not w for w in why], why_not=why)

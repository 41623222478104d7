"""Is the evidence fit to answer the question? The regime check (did the baseline overfit?),
whether techniques with a trigger engaged, and arms that measure nothing. The arms themselves
(each set at the candidate validation prefers) are chosen in analysis/arms.py. Never imports
TensorFlow.

- **Regime**: the gap question is testable only where the (tuned) baseline fits its training set:
  its mean clean train accuracy must reach the grid's `min_train_accuracy`.
- **Engagement**: early stopping that never stopped, a plateau schedule that never reduced the
  rate, a checkpoint that restored the last evaluation did nothing; say so, not "no effect".
- **Arms that measure nothing**: a set whose every seed gives exactly the numbers of another set
  (best_checkpoint and early_stopping that restore the same weights) is reported once; a control
  ([design] controls, e.g. class weights on balanced data) stands outside every family.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from regbench.analysis.aggregate import BASELINE, CONDITION, ok
from regbench.analysis.stats import mean_ci

TRIGGERED = "_triggered"  # suffix of the cells frame's columns <technique>_triggered


def regime(
    arms: pd.DataFrame,
    thresholds: dict[Any, float],
    rules: dict[Any, str] | None = None,
    curves: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per condition of the arms: did the baseline overfit? By the section's rule (`rules`, keyed
    like `thresholds` by section, None outside sections): "fits" (the default) when the
    baseline's mean clean train accuracy reaches the threshold; "gap" (full-size data, where a
    small model need not fit every example) when its accuracy gap's 95% CI lies above zero and its
    mean validation loss turned upward (ended above its lowest point; `curves`: aggregate.curves).
    Columns: the CONDITION columns, n (baseline seeds), train_accuracy, test_accuracy (baseline
    means), gap_mean, gap_low, gap_high (its accuracy gap, 95% CI), threshold, rule, testable
    (bool), reason ("" or "baseline underfits (train 0.761 < 0.99)", ...)."""
    rows = []
    good = ok(arms)
    for key, group in good.groupby(CONDITION, sort=True):
        row = dict(zip(CONDITION, key, strict=True))
        section = row["section"] or None  # "": no sections
        threshold = thresholds.get(section, thresholds.get(None, 0.99))
        rule = (rules or {}).get(section, "fits")
        base = group[group["technique_set"] == BASELINE]
        row |= {"n": len(base), "threshold": threshold, "rule": rule}
        if base.empty:
            rows.append(row | {"testable": False, "reason": "no baseline in this condition to check the regime"})
            continue
        train, test = base["train_accuracy"].mean(), base["test_accuracy"].mean()
        gap, low, high, _ = mean_ci(base["accuracy_gap"].to_numpy(dtype=float))
        if rule == "gap":
            reason = "" if low > 0 else f"no gap to reduce (baseline gap {100 * gap:+.1f} pp, its CI reaches 0)"
            reason = reason or ("" if val_loss_rose(curves, key) else "the baseline's validation loss never rose")
        else:
            reason = "" if train >= threshold else f"baseline underfits (train {train:.3f} < {threshold:g})"
        rows.append(row | {"train_accuracy": train, "test_accuracy": test, "gap_mean": gap, "gap_low": low,
                           "gap_high": high, "testable": not reason, "reason": reason})  # fmt: skip
    return pd.DataFrame(rows)


def val_loss_rose(curves: pd.DataFrame | None, condition: tuple) -> bool:
    """Whether the baseline's mean validation loss (over all its seeds) ended above its minimum."""
    if curves is None or curves.empty:
        return False
    mask = (curves["technique_set"] == BASELINE) & (curves["split"] == "val") & (curves["metric"] == "xent")
    for column, value in zip(CONDITION, condition, strict=True):
        mask &= curves[column] == value
    curve = curves[mask & (curves["count"] == curves["seeds"])].sort_values("step")["mean"].to_numpy()
    return len(curve) > 1 and curve[-1] > curve.min() + 1e-6


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


def underfit(regime_table: pd.DataFrame) -> dict[tuple, str]:
    """{condition: why its baseline cannot answer the gap question} of the conditions that are not
    testable in the regime table."""
    if regime_table.empty:
        return {}
    return {tuple(r[c] for c in CONDITION): r["reason"] for _, r in regime_table.iterrows() if not r["testable"]}


def judge(
    effects: pd.DataFrame, unfit: dict[tuple, str], idle: dict[tuple, str], label: str = "technique_set"
) -> pd.DataFrame:
    """`effects` (one row per metric, condition and `label`: a set, a factorial term, a left-out
    technique) with two more columns: testable (bool) and why_not ("" or the reason: the baseline
    underfits (`unfit`: underfit), or, for a set, a trigger that never fired (`idle`:
    never_engaged))."""
    if effects.empty:
        return effects.assign(testable=pd.Series(dtype=bool), why_not=pd.Series(dtype=str))
    idle = idle if label == "technique_set" else {}
    why = [
        unfit.get(tuple(r[: len(CONDITION)])) or idle.get(tuple(r), "")
        for r in effects[[*CONDITION, label]].itertuples(index=False)
    ]
    return effects.assign(testable=[not w for w in why], why_not=why)


FINALS = ("train_accuracy", "val_accuracy", "test_accuracy", "train_loss", "val_loss", "test_loss")


def identical(arms: pd.DataFrame) -> dict[tuple, tuple[str, int, int]]:
    """{(*condition, technique_set): (other set, seeds identical, seeds in common)} for each set whose
    final metrics equal another's exactly in some seed; `other` is the first, alphabetically, of
    the sets it matches in the most seeds (the baseline first of all)."""
    out: dict[tuple, tuple[str, int, int]] = {}
    good = ok(arms)
    for condition, group in good.groupby(CONDITION, sort=True):
        by_set = {s: g.set_index("seed")[list(FINALS)] for s, g in group.groupby("technique_set", sort=True)}
        names = sorted(by_set, key=lambda s: (s != BASELINE, s))
        for i, name in enumerate(names):
            best = None
            for other in names[:i]:  # only an earlier set is named: each pair is reported once
                common = by_set[name].index.intersection(by_set[other].index)
                same = int((by_set[name].loc[common] == by_set[other].loc[common]).all(axis=1).sum())
                if same and (best is None or same > best[1]):
                    best = (other, same, len(common))
            if best:
                out[(*condition, name)] = best
    return out


def outside(effects: pd.DataFrame, controls: dict[str, tuple[str, ...]], twins: dict[tuple, tuple]) -> list[str]:
    """Per effect row, why it stands outside every family ("" for none): "control", or "identical to
    early_stopping in 3/3 seeds" (a set that repeats another's numbers in every seed)."""
    why = []
    for r in effects[[*CONDITION, "technique_set"]].itertuples(index=False):
        twin = twins.get(tuple(r))
        if r.technique_set in controls.get(r.section, ()):
            why.append("control")
        elif twin and twin[1] == twin[2]:
            why.append(f"identical to {twin[0]} in {twin[1]}/{twin[2]} seeds")
        else:
            why.append("")
    return why

"""How each kind of claim is measured in one section: effect, level, effect_shrinks_with_size,
val_loss_rises, rises_after_lr_drop. Each yields rows (condition, compared sets, measured text, n,
p, verdict by the CI) that claims.evaluate judges further (testable, Holm). Never imports
TensorFlow."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis.labels import condition_label, short_label
from regbench.analysis.stats import SAME, mean_ci, paired_effect
from regbench.grid.claim_kinds import CLAIM_KINDS, is_paired
from regbench.grid.naming import data_label
from regbench.grid.spec import Claim
from regbench.records.steps import steps_per_epoch

# A claim's metric -> (split, name) in the learning curves; losses are the data cross-entropy.
CURVES = {"val_accuracy": ("val", "accuracy"), "val_loss": ("val", "xent"),
          "train_accuracy": ("train", "accuracy"), "train_loss": ("train", "xent")}  # fmt: skip

GAPS = ("accuracy_gap", "loss_gap")  # metrics a claim about overfitting is judged on

PERCENT = ("accuracy_gap", "test_accuracy", "val_accuracy", "train_accuracy")

LABELS = agg.METRICS | {"val_accuracy": "validation accuracy", "train_accuracy": "train accuracy",
                        "val_loss": "validation loss", "test_loss": "test loss", "train_loss": "train loss",
                        "best_epoch": "best epoch"}  # fmt: skip


def compared(claim: Claim) -> str:
    if not is_paired(claim.kind):
        return short_label(claim.set)
    return f"{short_label(claim.set)} vs {short_label(claim.against)}"


def verdict(mean: float, low: float, high: float, n: int, expect: str) -> str:
    if n < 2 or not math.isfinite(low):
        return "not measured: one seed, no confidence interval"
    if high - low <= SAME:
        return "not supported (every seed gave the same difference: no interval to judge)"
    sign = 1 if expect == "increase" else -1
    if (low > 0 and sign > 0) or (high < 0 and sign < 0):
        return "supported"
    if (high < 0 and sign > 0) or (low > 0 and sign < 0):
        return "contradicted"
    return "not supported (CI includes 0)"


def value_text(metric: str, mean: float, low: float, high: float, delta: bool = True) -> str:
    """'+3.1 pp [+1.0, +5.2]' for accuracies (Δ), '73.2% [72.5, 73.9]' for a level, else 3 decimals."""
    if metric in PERCENT:
        unit, scale, sign = (" pp", 100, "+") if delta else ("%", 100, "")
        ci = f" [{scale * low:{sign}.1f}, {scale * high:{sign}.1f}]" if math.isfinite(low) else ""
        return f"{scale * mean:{sign}.1f}{unit}{ci}"
    sign = "+" if delta else ""
    ci = f" [{low:{sign}.3f}, {high:{sign}.3f}]" if math.isfinite(low) else ""
    return f"{mean:{sign}.3f}{ci}"


def unmeasured_point(claim: Claim, cells: pd.DataFrame) -> str:
    """Why a claim at a step (or epoch) has no value: no evaluation happened exactly there."""
    every = sorted({int(e) for e in cells["eval_every"].dropna()}) if "eval_every" in cells else []
    when = f"step {claim.step}" if claim.step else f"epoch {claim.epoch}"
    return f"no evaluation at {when}" + (f" (evaluated every {', '.join(map(str, every))} steps)" if every else "")


def metric_values(claim: Claim, cells: pd.DataFrame, history: pd.DataFrame) -> pd.Series:
    """The claim's metric per cell: a final column, or (with `epoch` or `step`) the learning
    curve's value at the evaluation made exactly after that many optimizer steps (epochs times
    the steps of one pass); NaN where no evaluation was made there: comparing arms at another
    step than the claim names would not test it."""
    if not (claim.epoch or claim.step):
        return cells[claim.metric].astype(float)
    split, name = CURVES[claim.metric]
    rows = history[
        (history["split"] == split) & (history["metric"] == name) & history["cell_id"].isin(cells["cell_id"])
    ]
    per_epoch = steps_per_epoch(cells["train_size"], cells["batch_size"])
    steps = pd.Series(claim.step, index=cells.index) if claim.step else claim.epoch * per_epoch
    target = dict(zip(cells["cell_id"], steps, strict=True))
    values = {}
    for cid, g in rows.groupby("cell_id", observed=True):
        at = g[g["step"] == target[cid]]
        if len(at):
            values[cid] = at["value"].iloc[0]
    return cells["cell_id"].map(values).astype(float)


def by_seed(cells: pd.DataFrame, values: pd.Series) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """(condition, wide table: seed x technique set) per condition; a set whose values are all NaN
    (no evaluation at a claim's step) keeps its column, so the claim can say why it has none."""
    frame = cells.assign(value=values.to_numpy())
    for condition, group in frame.groupby(agg.CONDITION, sort=True):
        yield (
            dict(zip(agg.CONDITION, condition, strict=True)),
            group.pivot(index="seed", columns="technique_set", values="value"),
        )


def key_of(condition: dict[str, Any]) -> tuple:
    """The condition as the evidence tables key it (the aggregate.CONDITION columns, in order)."""
    return tuple(condition[c] for c in agg.CONDITION)


def condition_text(condition: dict[str, Any]) -> str:
    """The condition within its section (the claims table shows the section in a column of its own)."""
    return condition_label(None, *(condition[c] for c in agg.CONDITION[1:]))


def effect(claim: Claim, cells: pd.DataFrame, history: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """`set` - `against` per seed. A claim that a set reduces overfitting (the gap decreases) also
    carries the change in test accuracy (`veto`): a gap that shrank while test accuracy fell, under
    the same correction as the claim, shrank by underfitting (claims.corrected decides)."""
    test = {key_of(c): w for c, w in by_seed(cells, cells["test_accuracy"])}
    values = metric_values(claim, cells, history)
    for condition, wide in by_seed(cells, values):
        if claim.set in wide and claim.against in wide:
            diff = (wide[claim.set] - wide[claim.against]).dropna().to_numpy()
            if not len(diff):
                yield {"keys": [key_of(condition)], "condition": condition_text(condition), "compared": compared(claim),
                       "measured": "-", "n": 0, "verdict": f"not measured: {unmeasured_point(claim, cells)}"}  # fmt: skip
                continue
            effect_ = paired_effect(diff)
            after = f" after epoch {claim.epoch}" if claim.epoch else f" after step {claim.step}" if claim.step else ""
            row = {
                "keys": [key_of(condition)],
                "comparison": (claim.metric, key_of(condition), claim.set, claim.against) if not after else None,
                "condition": condition_text(condition),
                "compared": compared(claim),
                "measured": f"Δ {LABELS[claim.metric]}{after} {value_text(claim.metric, *effect_[:3])}",
                "n": effect_.n, "p": effect_.p, "effect": effect_,
                "verdict": verdict(effect_.mean, effect_.low, effect_.high, effect_.n, claim.expect),
            }  # fmt: skip
            if claim.metric in GAPS and claim.expect == "decrease":
                other = test[key_of(condition)]
                row["veto"] = paired_effect((other[claim.set] - other[claim.against]).dropna().to_numpy())
            yield row


def level(claim: Claim, cells: pd.DataFrame, history: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """`set`'s mean within [low, high]: supported when the whole 95% CI lies inside the range."""
    for condition, wide in by_seed(cells, metric_values(claim, cells, history)):
        if claim.set in wide:
            mean, low, high, n = mean_ci(wide[claim.set].dropna().to_numpy())
            if n < 2:
                text = verdict(mean, low, high, n, claim.expect)
            elif claim.low <= low and high <= claim.high:
                text = "supported"
            elif high < claim.low or low > claim.high:
                text = "contradicted"
            elif claim.low <= mean <= claim.high:
                text = "not supported (consistent with the range: the mean lies inside, the CI reaches outside)"
            else:
                text = "not supported (CI overlaps the range, mean outside)"
            yield {
                "keys": [key_of(condition)],
                "condition": condition_text(condition),
                "compared": compared(claim),
                "measured": f"{LABELS[claim.metric]} {value_text(claim.metric, mean, low, high, delta=False)}",
                "n": n,
                "verdict": text,
            }


def effect_shrinks_with_size(claim: Claim, cells: pd.DataFrame, history: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """(effect at the smallest train size) - (effect at the largest), seeds paired by number."""
    values = metric_values(claim, cells, history)
    for setting, group in cells.groupby(agg.SETTING, sort=True):
        section, dataset, imbalance, model = setting
        per_size = {}
        for condition, wide in by_seed(group, values[group.index]):
            if claim.set in wide and claim.against in wide:
                per_size[condition["train_size"]] = (wide[claim.set] - wide[claim.against]).dropna()
        if len(per_size) < 2:
            continue
        small, large = min(per_size), max(per_size)
        diff = (per_size[small] - per_size[large]).dropna().to_numpy()
        mean, low, high, n, _, p = paired_effect(diff)
        at_small = paired_effect(per_size[small].to_numpy())
        at = ", ".join(
            f"{value_text(claim.metric, *mean_ci(per_size[s].to_numpy())[:3])} at n={s}" for s in (small, large)
        )
        # "Helps most when scarce" needs both: it helps at the smallest size, and more there than at
        # the largest. Both must hold, so the row's p is the larger of the two (an intersection-union test).
        both = [verdict(mean, low, high, n, claim.expect), verdict(*at_small[:4], claim.expect)]
        text = both[0]
        if both[0] == "supported" and both[1] != "supported":
            text = f"not supported: larger at n={small} than at n={large}, but no {claim.expect} at n={small} itself"
        yield {
            "keys": [(section, dataset, imbalance, size, model) for size in (small, large)],
            "condition": f"{data_label(dataset, imbalance)} n={small} vs n={large} {model}",
            "compared": compared(claim),
            "measured": f"Δ {LABELS[claim.metric]} {at}; difference {value_text(claim.metric, mean, low, high)}",
            "n": n,
            "p": max(p, at_small.p) if math.isfinite(p) and math.isfinite(at_small.p) else math.nan,
            "verdict": text,
        }


def curves_of(history: pd.DataFrame, ids: pd.Series, split: str, name: str) -> dict[str, np.ndarray]:
    """{cell_id: values by epoch} of one learning curve."""
    rows = history[(history["split"] == split) & (history["metric"] == name) & history["cell_id"].isin(ids)]
    return {cid: g.sort_values("epoch")["value"].to_numpy() for cid, g in rows.groupby("cell_id", observed=True)}


def val_loss_rises(claim: Claim, cells: pd.DataFrame, history: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Per seed: the validation loss at the last evaluation minus at the evaluation where the other
    seeds' mean curve is lowest. Chosen on the other seeds, that point does not ride on this
    seed's noise, so under a flat curve the statistic is centred on zero (last minus one's own
    minimum could only be >= 0)."""
    for condition, group in cells[cells["technique_set"] == claim.set].groupby(agg.CONDITION, sort=True):
        curves = list(curves_of(history, group["cell_id"], "val", "xent").values())
        if len(curves) < 2:
            continue
        length = min(len(c) for c in curves)
        aligned = np.array([c[:length] for c in curves])
        rises, lowest = [], []
        for i in range(len(aligned)):
            j = int(np.nanargmin(np.delete(aligned, i, axis=0).mean(axis=0)))
            rises.append(aligned[i, -1] - aligned[i, j])
            lowest.append(j + 1)
        mean, low, high, n, _, p = paired_effect(rises)
        yield {
            "keys": [condition],
            "condition": condition_text(dict(zip(agg.CONDITION, condition, strict=True))),
            "compared": compared(claim),
            "measured": f"validation loss at the last evaluation minus at the lowest point of the other seeds' mean "
            f"(evaluation {int(np.median(lowest))}, median, of {length}): {value_text('val_loss', mean, low, high)}",
            "n": n,
            "p": p,
            "verdict": verdict(mean, low, high, n, "increase"),
        }


def rises_after_lr_drop(claim: Claim, cells: pd.DataFrame, history: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Per seed whose rate dropped with `window` evaluations left in both runs: the metric's mean
    over those evaluations in the `set` run minus in the `against` run of the same seed, which
    followed the identical path up to the drop (so neither the choice of the drop point nor
    regression to the mean favours either). Seeds without a drop, or whose window was cut short by
    the budget or early stopping, are counted and reported, not measured."""
    split, name = CURVES[claim.metric]
    for condition, group in cells.groupby(agg.CONDITION, sort=True):
        runs = {
            t: g.set_index("seed")["cell_id"]
            for t, g in group.groupby("technique_set")
            if t in (claim.set, claim.against)
        }
        if len(runs) < 2:
            continue
        rates = curves_of(history, runs[claim.set], "train", "learning_rate")
        treated = curves_of(history, runs[claim.set], split, name)
        control = curves_of(history, runs[claim.against], split, name)
        steps = {cid: g.sort_values("epoch")["step"].to_numpy() for cid, g in history[
            history["cell_id"].isin(runs[claim.set]) & (history["metric"] == "learning_rate")].groupby("cell_id", observed=True)}  # fmt: skip
        seeds = [
            (cid, runs[claim.against][seed]) for seed, cid in runs[claim.set].items() if seed in runs[claim.against]
        ]
        seeds = [(cid, other) for cid, other in seeds if cid in rates and cid in treated and other in control]
        diffs, at, short = [], [], 0
        for cid, other in seeds:
            dropped = np.flatnonzero(rates[cid] < rates[cid][0])
            if not len(dropped):
                continue
            # The rate recorded at evaluation i is the one set at its end: evaluation i ran at the old rate.
            i = int(dropped[0])
            window = slice(i + 1, i + 1 + claim.window)
            mine, theirs = treated[cid][window], control[other][window]
            if len(mine) < claim.window or len(theirs) < claim.window:
                short += 1
                continue
            diffs.append(mine.mean() - theirs.mean())
            at.append(steps[cid][i] if cid in steps else i + 1)
        head = {"keys": [condition], "condition": condition_text(dict(zip(agg.CONDITION, condition, strict=True))),
                "compared": compared(claim)}  # fmt: skip
        dropped_in = len(diffs) + short
        counts = f"the rate dropped in {dropped_in} of {len(seeds)} seeds" + (
            f", {short} too late for a window of {claim.window} evaluations" if short else ""
        )
        if not diffs:
            why = "the learning rate was never reduced within the budget" if not dropped_in else counts
            yield head | {"measured": "-", "n": 0, "verdict": f"not measured: {why}"}
            continue
        mean, low, high, n, _, p = paired_effect(diffs)
        yield head | {
            "measured": f"{LABELS[claim.metric]} over the {claim.window} evaluations after the first drop (step "
            f"{int(np.median(at))}, median), minus the same evaluations of the run without the drop: "
            f"{value_text(claim.metric, mean, low, high)} ({counts})",
            "n": n,
            "p": p,
            "verdict": verdict(mean, low, high, n, claim.expect),
        }


Measure = Callable[[Claim, pd.DataFrame, pd.DataFrame], Iterator[dict[str, Any]]]
MEASURES: dict[str, Measure] = {
    "effect": effect,
    "level": level,
    "effect_shrinks_with_size": effect_shrinks_with_size,
    "val_loss_rises": val_loss_rises,
    "rises_after_lr_drop": rises_after_lr_drop,
}


def check_measures() -> None:
    """Every declared claim kind has a measure here and every measure a declaration: a kind added
    in one place only fails at import, not silently in a report."""
    declared, measured = set(CLAIM_KINDS.names()), set(MEASURES)
    if declared != measured:
        raise RuntimeError(
            f"claim kinds without a measure: {sorted(declared - measured)}; measures without a kind in "
            f"grid/claim_kinds.py: {sorted(measured - declared)}"
        )


check_measures()

"""Results -> tidy DataFrames and statistics across seeds. Never imports TensorFlow.

A *condition* is (section, dataset, imbalance, train_size, model): effects are paired against the
baseline cell of the same condition and seed; each section of a grid is a setting of its own. The
parts stay columns of their own from the records to the report (section "" outside sections,
imbalance 0 for a stratified training subset: pandas drops None from groups); labels are made
for display only, by cell.condition_label.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from regbench.analysis.stats import crosses_zero, evidence, holm, mean_ci, paired_effect, seeds_needed
from regbench.grid.labels import condition_label, dataset_label, set_label, varying_params
from regbench.result import Result

CONDITION = ["section", "dataset", "imbalance", "train_size", "model"]
SETTING = ["section", "dataset", "imbalance", "model"]  # a condition but for its train size
BASELINE = "baseline"
# Metric column -> label (units) used in tables and figures.
METRICS = {
    "train_accuracy": "train accuracy (clean pass)",
    "test_accuracy": "test accuracy",
    "best_val_test_accuracy": "test accuracy at the best validation accuracy",
    "accuracy_gap": "accuracy gap (train - test)",
    "loss_gap": "loss gap (test - train)",
    "epochs_run": "epochs run",
    "steps_run": "optimizer steps run",
    "time_per_epoch_s": "time per epoch (s)",
}
EFFECT_METRICS = ("accuracy_gap", "loss_gap", "test_accuracy")


def condition_labels(frame: pd.DataFrame) -> list[str]:
    """Each row's condition for display (cell.condition_label), from the CONDITION columns."""
    return [condition_label(*c) for c in frame[CONDITION].itertuples(index=False)]


def dataset_labels(frame: pd.DataFrame) -> list[str]:
    """Each row's data for display, with its section (cell.dataset_label)."""
    return [dataset_label(*k) for k in frame[SETTING[:3]].itertuples(index=False)]


def cells_frame(records: Iterable[Result]) -> pd.DataFrame:
    """One row per stored cell. Columns: cell_id, slug, status, error, section ("" outside
    sections), dataset, imbalance (max/min class ratio; 0: stratified), train_size, val_size,
    split_seed, model, technique_set, members (the set's techniques), techniques (JSON parameters), seed,
    epochs, steps, eval_every, batch_size, optimizer, learning_rate, momentum,
    {train,val,test}_{loss,accuracy}, accuracy_gap, loss_gap, best_epoch, best_step, epochs_run,
    steps_run, best_val_step, best_val_test_accuracy (test accuracy at the best validation
    accuracy), time_per_epoch_s, wall_time_s, params, device, numerics (dtype policy, "+ XLA"),
    git_revision, transfer_source, transfer_backbone, source_test_accuracy, and
    <technique>_triggered (bool) for each technique with a trigger (early stopping, ...)."""
    rows = []
    for r in records:
        cell = r.cell
        row = {"cell_id": r.cell_id, "slug": r.slug, "status": r.status, "error": r.error}
        row |= {
            "section": cell.get("section") or "",
            "dataset": cell["dataset"],
            "imbalance": cell.get("imbalance") or 0.0,
        }
        row |= {k: cell.get(k) for k in ("train_size", "val_size", "split_seed", "model")}
        row["technique_set"] = cell["techniques"]  # labelled below, once every cell is known
        row["members"] = tuple(sorted(cell["techniques"]))  # the set's techniques, for analyses
        row["techniques"] = json.dumps(cell["techniques"], sort_keys=True)
        budget = ("seed", "epochs", "steps", "eval_every", "batch_size", "optimizer", "learning_rate", "momentum")
        row |= {k: cell.get(k) for k in budget}
        for split in ("train", "val", "test"):
            for metric in ("loss", "accuracy"):
                row[f"{split}_{metric}"] = r.final[split][metric] if r.final else np.nan
        row["accuracy_gap"] = r.gap["accuracy"] if r.gap else np.nan
        row["loss_gap"] = r.gap["loss"] if r.gap else np.nan
        row |= {
            k: getattr(r, k)
            for k in ("best_epoch", "best_step", "epochs_run", "steps_run", "time_per_epoch_s", "wall_time_s")
            + ("params", "device", "git_revision")
        }
        at_best = r.at_best_val or {}
        row["best_val_step"] = at_best.get("step")
        row["best_val_test_accuracy"] = at_best["test"]["accuracy"] if at_best else np.nan
        row |= {f"{name}_triggered": facts["triggered"] for name, facts in r.mechanisms.items()}
        numerics = r.numerics  # empty in records from before --mixed-precision/--xla
        row["numerics"] = numerics.get("dtype_policy", "float32") + (" + XLA" if numerics.get("jit_compile") else "")
        transfer = (r.setup or {}).get("transfer", {})
        row["transfer_source"] = transfer.get("source")
        row["transfer_backbone"] = transfer.get("backbone_id")
        row["source_test_accuracy"] = transfer.get("source_test_accuracy")
        rows.append(row)
    # A sweep's cells differ in a parameter: labels show it ("dropout(rate=0.25)"), as slugs do
    # (within a section: sections set their own parameters).
    for section in {row["section"] for row in rows}:
        part = [row for row in rows if row["section"] == section]
        varying = varying_params(row["technique_set"] for row in part)
        for row in part:
            row["technique_set"] = set_label(row["technique_set"], varying)
    columns = ["cell_id", "slug", "status", "error", *CONDITION[:4], "val_size", "split_seed", "model", "technique_set"]
    frame = pd.DataFrame(rows, columns=None if rows else columns)
    return frame.sort_values([*CONDITION, "technique_set", "seed"], ignore_index=True) if rows else frame


def history_frame(records: Iterable[Result]) -> pd.DataFrame:
    """The history in long form, one row per evaluation, split and metric. Columns: cell_id,
    epoch (the evaluation's number, from 1: the epoch under an epochs budget), step (optimizer
    steps done at that evaluation), split, metric, value."""
    # Built column by column from the stored lists: one DataFrame per cell is 10x slower on large
    # grids. Order: records as given (sorted by id), then split, metric, epoch: deterministic.
    ids, splits, metrics, lengths, values, steps = [], [], [], [], [], []
    for r in records:
        at = np.asarray(r.eval_steps or [], dtype=np.float64)
        for split, by_metric in sorted(r.history.items()):
            for metric, series in sorted(by_metric.items()):
                ids.append(r.cell_id)
                splits.append(split)
                metrics.append(metric)
                lengths.append(len(series))
                values.append(series)
                # NaN where a record has fewer evaluation steps than values (none should)
                steps.append(at[: len(series)] if len(at) >= len(series) else np.full(len(series), np.nan))
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pd.DataFrame(
        {
            "cell_id": repeated_categorical(ids, lengths),
            "epoch": np.arange(lengths.sum(), dtype=np.int64) - starts + 1,
            "step": np.concatenate(steps) if steps else np.empty(0),
            "split": repeated_categorical(splits, lengths),
            "metric": repeated_categorical(metrics, lengths),
            # A list, not fromiter: NaN is stored as null, and only np.array turns None into NaN.
            "value": np.array(list(itertools.chain.from_iterable(values)), dtype=np.float64),
        }
    )


def repeated_categorical(labels: list[str], repeats: np.ndarray) -> pd.Categorical:
    """labels[i] repeated repeats[i] times, built from integer codes (millions of rows)."""
    categories, codes = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    return pd.Categorical.from_codes(np.repeat(codes, repeats), categories=categories)


def curves(history: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Learning curves over seeds, for ok cells. Columns: the CONDITION columns,
    technique_set, metric (xent | accuracy), split (train | val), epoch, step, mean, std."""
    labels = [*CONDITION, "technique_set"]
    good = ok(cells)
    # Rows are grouped by a small integer per (condition, set), not by merged label columns:
    # on millions of history rows that is 3x faster.
    group = pd.Series(good.groupby(labels, sort=True).ngroup().to_numpy(), index=good["cell_id"].to_numpy())
    rows = history[history["metric"].isin(["xent", "accuracy"])]
    rows = rows.assign(group=rows["cell_id"].astype(object).map(group)).dropna(subset=["group"])
    out = rows.groupby(["group", "metric", "split", "epoch", "step"], observed=True, sort=True, dropna=False)[
        "value"
    ].agg(["mean", "std"])
    out = out.reset_index().astype({"group": int, "metric": str, "split": str})
    names = good[labels].drop_duplicates().sort_values(labels, ignore_index=True)
    return names.join(out.set_index("group"), how="inner").reset_index(drop=True)[
        [*labels, "metric", "split", "epoch", "step", "mean", "std"]
    ]


def ok(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[cells["status"] == "ok"] if len(cells) else cells


def summary(cells: pd.DataFrame) -> pd.DataFrame:
    """Per condition and technique set, over seeds. Columns: the CONDITION columns,
    technique_set, n, then {metric}_mean, {metric}_low, {metric}_high for each of METRICS."""
    rows = []
    for key, group in ok(cells).groupby([*CONDITION, "technique_set"], sort=True):
        row = dict(zip([*CONDITION, "technique_set"], key, strict=True)) | {"n": len(group)}
        for metric in METRICS:
            values = group[metric].to_numpy(dtype=float) if metric in group else np.full(len(group), np.nan)
            mean, low, high, _ = mean_ci(values)
            row |= {f"{metric}_mean": mean, f"{metric}_low": low, f"{metric}_high": high}
        rows.append(row)
    return pd.DataFrame(rows)


def _by_seed(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Wide table: index (condition..., seed), one column per technique set."""
    return ok(cells).pivot_table(index=[*CONDITION, "seed"], columns="technique_set", values=metric, aggfunc="first")


def _contrast_rows(per_seed: pd.Series | np.ndarray, keys: dict[str, Any]) -> dict[str, Any]:
    return keys | paired_effect(per_seed)._asdict()


def effects(cells: pd.DataFrame) -> pd.DataFrame:
    """Each technique set minus the baseline of the same condition and seed. Columns: metric,
    the CONDITION columns, technique_set, n (paired seeds), mean, low, high (95% CI), sd, p
    (paired t-test), p_holm (Holm-corrected within the metric), family (tests in it),
    distinguishable (CI excludes 0), evidence (established | suggestive | none), seeds_needed."""
    rows = []
    for metric in EFFECT_METRICS:
        wide = _by_seed(cells, metric)
        if BASELINE not in wide.columns:
            continue
        for condition, group in wide.groupby(level=CONDITION, sort=True):
            for technique_set in sorted(c for c in group.columns if c != BASELINE):
                diff = (group[technique_set] - group[BASELINE]).dropna()
                if len(diff):
                    keys = (
                        {"metric": metric}
                        | dict(zip(CONDITION, condition, strict=True))
                        | {"technique_set": technique_set}
                    )
                    rows.append(_contrast_rows(diff, keys))
    return _finish(rows)


def _finish(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The contrasts with p_holm (Holm within each metric: one family), distinguishable (the CI
    excludes 0), evidence (established | suggestive | none: stats.evidence) and, for a
    suggestive effect, seeds_needed to establish it at the observed spread."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_holm"] = np.nan
    frame["family"] = 0
    for _, group in frame.groupby("metric"):  # one family of tests per metric
        frame.loc[group.index, "p_holm"] = holm(group["p"].tolist())
        frame.loc[group.index, "family"] = int(group["p"].notna().sum())
    frame["distinguishable"] = [not crosses_zero(lo, hi) for lo, hi in zip(frame["low"], frame["high"], strict=True)]
    frame["evidence"] = [evidence(r.low, r.high, r.p_holm) for r in frame.itertuples()]
    frame["seeds_needed"] = [
        seeds_needed(r.mean, r.sd, r.family) if r.evidence == "suggestive" else np.nan for r in frame.itertuples()
    ]
    return frame


def labels_by_members(cells: pd.DataFrame) -> dict[frozenset[str], str]:
    """{frozenset of technique names: the set's label} of the cells (the label shows a swept value,
    the members never do)."""
    return {frozenset(m): label for label, m in zip(cells["technique_set"], cells["members"], strict=True)}


def factorial_effects(cells: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    """Main effects and two-way interactions of a factorial design, per condition, over seeds.

    Main effect of A (per seed) = mean of y over sets with A - mean over sets without A.
    Interaction of A and B (per seed) = mean over the other factors' levels of
    y(A,B) - y(A) - y(B) + y(neither): how much the pair does beyond the sum of each alone.
    Columns: metric, the CONDITION columns, term ("dropout" or "batchnorm x dropout"),
    kind (main | interaction), n, mean, low, high, p, p_holm, distinguishable."""
    rows = []
    for metric, condition, group, label in _sets_by_seed(cells):
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
            rows.append(_contrast_rows(with_a - without_a, keys | {"term": a, "kind": "main"}))
        for a, b in combinations(present, 2):
            others = [s for s in subsets if a not in s and b not in s]
            terms = [column[s | {a, b}] - column[s | {a}] - column[s | {b}] + column[s] for s in others]
            rows.append(_contrast_rows(np.mean(terms, axis=0), keys | {"term": f"{a} x {b}", "kind": "interaction"}))
    return _finish(rows)


def _sets_by_seed(cells: pd.DataFrame) -> Iterator[tuple[str, tuple, pd.DataFrame, dict[frozenset, str]]]:
    """(metric, condition, seed x set table, {members: set label} of the sets in it) per effect
    metric and condition."""
    label = labels_by_members(ok(cells))
    for metric in EFFECT_METRICS:
        for condition, group in _by_seed(cells, metric).groupby(level=CONDITION, sort=True):
            yield metric, condition, group, {m: name for m, name in label.items() if name in group.columns}


def leave_one_out(cells: pd.DataFrame, members: Sequence[str]) -> pd.DataFrame:
    """Contribution of each technique to the all-on recipe: y(all) - y(all without it), per seed.
    Columns: metric, the CONDITION columns, technique, n, mean, low, high, p, p_holm,
    distinguishable."""
    rows = []
    for metric, condition, group, label in _sets_by_seed(cells):
        present = [m for m in members if any(m in s for s in label)]
        full = label.get(frozenset(present))
        if len(present) < 2 or full not in group.columns:
            continue
        for technique in present:
            without = label.get(frozenset(present) - {technique})
            if without in group.columns:
                diff = (group[full] - group[without]).dropna()
                keys = {"metric": metric} | dict(zip(CONDITION, condition, strict=True)) | {"technique": technique}
                rows.append(_contrast_rows(diff, keys))
    return _finish(rows)


def ranking(cells: pd.DataFrame) -> pd.DataFrame:
    """Per condition: the set with the best mean test accuracy and the one with the smallest
    accuracy gap, each with the sets that cannot be told apart from the winner: the 95% CI of
    their paired difference (per seed) includes zero. Columns: the CONDITION columns,
    best_test_accuracy, tied_test_accuracy, smallest_gap, tied_gap."""
    rows = []
    for metric, prefix, best_is_max in (("test_accuracy", "test_accuracy", True), ("accuracy_gap", "gap", False)):
        for condition, wide in _by_seed(cells, metric).groupby(level=CONDITION, sort=True):
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
    return frame.groupby(CONDITION, sort=True).first().reset_index()[[*CONDITION, *columns]]


def sweep_effects(effects: pd.DataFrame, points: dict[str, tuple[str, Any]]) -> pd.DataFrame:
    """The effects (against the baseline) of a sweep's sets, keyed by the swept value. `points`
    maps a set label to (sweep name, value), e.g. "dropout(rate=0.25)" -> ("dropout.rate", 0.25).
    Columns: sweep, value, then those of `effects`."""
    if effects.empty or not points:
        return pd.DataFrame()
    part = effects[effects["technique_set"].isin(points.keys())].copy()
    part.insert(0, "value", [points[s][1] for s in part["technique_set"]])
    part.insert(0, "sweep", [points[s][0] for s in part["technique_set"]])
    return part.sort_values(["sweep", "metric", *CONDITION, "value"], ignore_index=True)


def technique_overview(effects: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """One row per technique set of one technique (sweep values included), over the testable
    conditions of `effects` (evidence.judge): columns technique_set, conditions, gap_established
    (conditions where it shrank the gap, established), gap_suggestive, gap_worse (widened it,
    established), gap_median and accuracy_median (median effect, fraction), accuracy_established_up,
    accuracy_established_down, time_ratio (median over conditions of its mean wall time over
    the baseline's)."""
    if effects.empty:
        return pd.DataFrame()
    testable = effects[effects["testable"] & ~effects["technique_set"].str.contains("+", regex=False)]
    wall = ok(cells).groupby([*CONDITION, "technique_set"])["wall_time_s"].mean()
    rows = []
    for name, group in testable.groupby("technique_set", sort=True):
        gap, acc = group[group["metric"] == "accuracy_gap"], group[group["metric"] == "test_accuracy"]
        ratios = [
            wall.get((*c, name), np.nan) / wall.get((*c, BASELINE), np.nan)
            for c in gap[CONDITION].itertuples(index=False)
        ]
        rows.append({
            "technique_set": name, "conditions": len(gap),
            "gap_established": int(((gap["evidence"] == "established") & (gap["mean"] < 0)).sum()),
            "gap_suggestive": int(((gap["evidence"] == "suggestive") & (gap["mean"] < 0)).sum()),
            "gap_worse": int(((gap["evidence"] == "established") & (gap["mean"] > 0)).sum()),
            "gap_median": float(gap["mean"].median()), "accuracy_median": float(acc["mean"].median()),
            "accuracy_established_up": int(((acc["evidence"] == "established") & (acc["mean"] > 0)).sum()),
            "accuracy_established_down": int(((acc["evidence"] == "established") & (acc["mean"] < 0)).sum()),
            "time_ratio": float(np.nanmedian(ratios)) if np.isfinite(ratios).any() else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows)

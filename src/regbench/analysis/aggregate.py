"""Results -> tidy DataFrames and statistics across seeds. Never imports TensorFlow.

A *condition* is (section, dataset, imbalance, train_size, model): effects are paired against the
baseline cell of the same condition and seed; each section of a grid is a setting of its own. The
parts stay columns of their own from the records to the report (section "" outside sections,
imbalance 0 for a stratified training subset: pandas drops None from groups); labels are made
for display only, by labels.condition_label.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable

import numpy as np
import pandas as pd

from regbench.analysis.stats import mean_ci
from regbench.grid.naming import set_label, varying_params
from regbench.grid.tuning import Candidate
from regbench.records.result import Result

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


def cells_frame(records: Iterable[Result]) -> pd.DataFrame:
    """One row per stored cell. Columns: cell_id, slug, status, error, section ("" outside
    sections), dataset, imbalance (max/min class ratio; 0: stratified), train_size, val_size,
    split_seed, model, technique_set, members (the set's techniques), techniques (JSON parameters), seed,
    epochs, steps, eval_every, batch_size, optimizer, learning_rate, momentum,
    {train,val,test}_{loss,accuracy}, accuracy_gap, loss_gap, best_epoch, best_step, epochs_run,
    steps_run, best_val_step, best_val_test_accuracy (test accuracy at the best validation
    accuracy), time_per_epoch_s, wall_time_s, train_time_s (timing's train_s; NaN in older records),
    params, device, numerics (dtype policy, "+ XLA"),
    doses (the tuned (technique, param, value) of the cell), candidate ("lr 0.003, dropout.rate 0.3"),
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
        row["train_time_s"] = r.timing["train_s"] if r.timing else np.nan  # optimizer steps alone
        at_best = r.at_best_val or {}
        row["best_val_step"] = at_best.get("step")
        row["best_val_test_accuracy"] = at_best["test"]["accuracy"] if at_best else np.nan
        row |= {f"{name}_triggered": facts["triggered"] for name, facts in r.mechanisms.items()}
        row["tuned"] = r.tuned
        # The candidate the cell is of its set: the tuned doses (the learning rate is its own column)
        row["doses"] = tuple(
            (name, k, cell["techniques"][name][k]) for name in sorted(r.tuned) for k in r.tuned[name]
            if name in cell["techniques"] and k in cell["techniques"][name]
        )  # fmt: skip
        numerics = r.numerics  # empty in records from before --mixed-precision/--xla
        row["numerics"] = numerics.get("dtype_policy", "float32") + (" + XLA" if numerics.get("jit_compile") else "")
        transfer = (r.setup or {}).get("transfer", {})
        row["transfer_source"] = transfer.get("source")
        row["transfer_backbone"] = transfer.get("backbone_id")
        row["source_test_accuracy"] = transfer.get("source_test_accuracy")
        rows.append(row)
    # A sweep's cells differ in a parameter: labels show it ("dropout(rate=0.25)"), as slugs do
    # (within a section: sections set their own parameters); tuned parameters are never shown.
    for section in {row["section"] for row in rows}:
        part = [row for row in rows if row["section"] == section]
        tuned = {name: keys for row in part for name, keys in row["tuned"].items()}
        varying = varying_params((row["technique_set"] for row in part), tuned)
        for row in part:
            row["technique_set"] = set_label(row["technique_set"], varying)
            row["candidate"] = Candidate(row["learning_rate"], row["doses"]).label()
            del row["tuned"]
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
    technique_set, metric (xent | accuracy), split (train | val), epoch, step, mean, std, count
    (seeds with a value there: fewer once early stopping ended some), seeds (the set's ok seeds)."""
    labels = [*CONDITION, "technique_set"]
    good = ok(cells)
    # Rows are grouped by a small integer per (condition, set), not by merged label columns:
    # on millions of history rows that is 3x faster.
    group = pd.Series(good.groupby(labels, sort=True).ngroup().to_numpy(), index=good["cell_id"].to_numpy())
    rows = history[history["metric"].isin(["xent", "accuracy"])]
    rows = rows.assign(group=rows["cell_id"].astype(object).map(group)).dropna(subset=["group"])
    out = rows.groupby(["group", "metric", "split", "epoch", "step"], observed=True, sort=True, dropna=False)[
        "value"
    ].agg(["mean", "std", "count"])
    out = out.reset_index().astype({"group": int, "metric": str, "split": str})
    names = good[labels].drop_duplicates().sort_values(labels, ignore_index=True)
    seeds = good.groupby(labels, sort=True).size().to_numpy()  # ok seeds of each (condition, set), by group
    out["seeds"] = seeds[out["group"].to_numpy()]
    return names.join(out.set_index("group"), how="inner").reset_index(drop=True)[
        [*labels, "metric", "split", "epoch", "step", "mean", "std", "count", "seeds"]
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

"""Results -> tidy DataFrames and statistics across seeds. Never imports TensorFlow.

A *condition* is (dataset, train_size, model): effects are paired against the baseline cell of the
same condition and seed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from regbench.stats import crosses_zero, holm, mean_ci, paired_p

CONDITION = ["dataset", "train_size", "model"]
BASELINE = "baseline"
# Metric column -> label (units) used in tables and figures.
METRICS = {
    "test_accuracy": "test accuracy",
    "accuracy_gap": "accuracy gap (train - test)",
    "loss_gap": "loss gap (test - train)",
    "epochs_run": "epochs run",
    "time_per_epoch_s": "time per epoch (s)",
}
EFFECT_METRICS = ("accuracy_gap", "loss_gap", "test_accuracy")


def cells_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per stored cell. Columns: cell_id, slug, status, error, dataset, train_size,
    val_size, split_seed, model, technique_set, techniques (JSON parameters), seed, epochs,
    batch_size, optimizer, learning_rate, momentum, {train,val,test}_{loss,accuracy},
    accuracy_gap, loss_gap, best_epoch, epochs_run, time_per_epoch_s, wall_time_s, params,
    device, git_revision."""
    rows = []
    for r in records:
        cell = r["cell"]
        row = {"cell_id": r["cell_id"], "slug": r["slug"], "status": r["status"], "error": r["error"]}
        row |= {k: cell.get(k) for k in ("dataset", "train_size", "val_size", "split_seed", "model")}
        row["technique_set"] = "+".join(sorted(cell["techniques"])) or BASELINE
        row["techniques"] = json.dumps(cell["techniques"], sort_keys=True)
        row |= {k: cell.get(k) for k in ("seed", "epochs", "batch_size", "optimizer", "learning_rate", "momentum")}
        for split in ("train", "val", "test"):
            for metric in ("loss", "accuracy"):
                row[f"{split}_{metric}"] = r["final"][split][metric] if r["final"] else np.nan
        row["accuracy_gap"] = r["gap"]["accuracy"] if r["gap"] else np.nan
        row["loss_gap"] = r["gap"]["loss"] if r["gap"] else np.nan
        row |= {
            k: r.get(k)
            for k in ("best_epoch", "epochs_run", "time_per_epoch_s", "wall_time_s", "params", "device", "git_revision")
        }
        rows.append(row)
    columns = ["cell_id", "slug", "status", "error", *CONDITION[:2], "val_size", "split_seed", "model", "technique_set"]
    frame = pd.DataFrame(rows, columns=None if rows else columns)
    return (
        frame.sort_values(["dataset", "train_size", "model", "technique_set", "seed"], ignore_index=True)
        if rows
        else frame
    )


def history_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Per-epoch history in long form. Columns: cell_id, epoch, split, metric, value."""
    # Built column by column: one DataFrame per cell is 10x slower on large grids. Rows keep the
    # stored order (records sorted by id, rows as the runner wrote them), which is deterministic.
    records = list(records)
    rows = [row for r in records for row in r["history"]]
    return pd.DataFrame(
        {
            "cell_id": np.repeat([r["cell_id"] for r in records], [len(r["history"]) for r in records]).astype(object),
            "epoch": np.fromiter((row["epoch"] for row in rows), dtype=np.int64, count=len(rows)),
            "split": pd.Categorical([row["split"] for row in rows]),
            "metric": pd.Categorical([row["metric"] for row in rows]),
            "value": np.fromiter((row["value"] for row in rows), dtype=np.float64, count=len(rows)),
        }
    )


def curves(history: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Learning curves over seeds, for ok cells. Columns: dataset, train_size, model,
    technique_set, metric (xent | accuracy), split (train | val), epoch, mean, std."""
    keys = [*CONDITION, "technique_set", "metric", "split", "epoch"]
    rows = history[history["metric"].isin(["xent", "accuracy"])]
    rows = rows.merge(ok(cells)[["cell_id", *CONDITION, "technique_set"]], on="cell_id")
    out = rows.groupby(keys, observed=True, sort=True)["value"].agg(["mean", "std"]).reset_index()
    return out.astype({"metric": str, "split": str})


def ok(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[cells["status"] == "ok"] if len(cells) else cells


def summary(cells: pd.DataFrame) -> pd.DataFrame:
    """Per condition and technique set, over seeds. Columns: dataset, train_size, model,
    technique_set, n, then {metric}_mean, {metric}_low, {metric}_high for each of METRICS."""
    rows = []
    for key, group in ok(cells).groupby([*CONDITION, "technique_set"], sort=True):
        row = dict(zip([*CONDITION, "technique_set"], key, strict=True)) | {"n": len(group)}
        for metric in METRICS:
            mean, low, high, _ = mean_ci(group[metric].to_numpy(dtype=float))
            row |= {f"{metric}_mean": mean, f"{metric}_low": low, f"{metric}_high": high}
        rows.append(row)
    return pd.DataFrame(rows)


def _by_seed(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Wide table: index (condition..., seed), one column per technique set."""
    return ok(cells).pivot_table(index=[*CONDITION, "seed"], columns="technique_set", values=metric, aggfunc="first")


def _contrast_rows(per_seed: pd.Series, keys: dict[str, Any]) -> dict[str, Any]:
    mean, low, high, n = mean_ci(per_seed.to_numpy(dtype=float))
    return keys | {"n": n, "mean": mean, "low": low, "high": high, "p": paired_p(per_seed.to_numpy(dtype=float))}


def effects(cells: pd.DataFrame) -> pd.DataFrame:
    """Each technique set minus the baseline of the same condition and seed. Columns: metric,
    dataset, train_size, model, technique_set, n (paired seeds), mean, low, high (95% CI), p
    (paired t-test), p_holm (Holm-corrected within the metric), distinguishable (CI excludes 0)."""
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
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_holm"] = np.nan
    for _, group in frame.groupby("metric"):  # one family of tests per metric
        frame.loc[group.index, "p_holm"] = holm(group["p"].tolist())
    frame["distinguishable"] = [not crosses_zero(lo, hi) for lo, hi in zip(frame["low"], frame["high"], strict=True)]
    return frame


def set_name(members: Iterable[str]) -> str:
    return "+".join(sorted(members)) or BASELINE


def factorial_effects(cells: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    """Main effects and two-way interactions of a factorial design, per condition, over seeds.

    Main effect of A (per seed) = mean of y over sets with A - mean over sets without A.
    Interaction of A and B (per seed) = mean over the other factors' levels of
    y(A,B) - y(A) - y(B) + y(neither): how much the pair does beyond the sum of each alone.
    Columns: metric, dataset, train_size, model, term ("dropout" or "batchnorm x dropout"),
    kind (main | interaction), n, mean, low, high, p, p_holm, distinguishable."""
    rows = []
    for metric in EFFECT_METRICS:
        wide = _by_seed(cells, metric)
        for condition, group in wide.groupby(level=CONDITION, sort=True):
            present = [f for f in factors if any(f in c.split("+") for c in group.columns)]
            subsets = [frozenset(s) for r in range(len(present) + 1) for s in combinations(present, r)]
            names = [set_name(s) for s in subsets]
            if not present or not all(n in group.columns for n in names):
                continue
            y = group[names].dropna()  # seeds with every subset stored
            if y.empty:
                continue
            y.columns = subsets
            keys = {"metric": metric} | dict(zip(CONDITION, condition, strict=True))
            for a in present:
                with_a = [s for s in subsets if a in s]
                effect = y[with_a].mean(axis=1) - y[[s for s in subsets if a not in s]].mean(axis=1)
                rows.append(_contrast_rows(effect, keys | {"term": a, "kind": "main"}))
            for a, b in combinations(present, 2):
                others = [s for s in subsets if a not in s and b not in s]
                terms = [y[s | {a, b}] - y[s | {a}] - y[s | {b}] + y[s] for s in others]
                rows.append(
                    _contrast_rows(sum(terms) / len(terms), keys | {"term": f"{a} x {b}", "kind": "interaction"})
                )
    return _finish(rows)


def leave_one_out(cells: pd.DataFrame, members: Sequence[str]) -> pd.DataFrame:
    """Contribution of each technique to the all-on recipe: y(all) - y(all without it), per seed.
    Columns: metric, dataset, train_size, model, technique, n, mean, low, high, p, p_holm,
    distinguishable."""
    rows = []
    for metric in EFFECT_METRICS:
        wide = _by_seed(cells, metric)
        for condition, group in wide.groupby(level=CONDITION, sort=True):
            present = [m for m in members if any(m in c.split("+") for c in group.columns)]
            full = set_name(present)
            if len(present) < 2 or full not in group.columns:
                continue
            for technique in present:
                without = set_name(set(present) - {technique})
                if without in group.columns:
                    diff = (group[full] - group[without]).dropna()
                    keys = {"metric": metric} | dict(zip(CONDITION, condition, strict=True)) | {"technique": technique}
                    rows.append(_contrast_rows(diff, keys))
    return _finish(rows)


def ranking(table: pd.DataFrame) -> pd.DataFrame:
    """Per condition: the set with the best mean test accuracy and the one with the smallest
    accuracy gap, each with the sets whose 95% CI overlaps the winner's (ties). Columns:
    dataset, train_size, model, best_test_accuracy, tied_test_accuracy, smallest_gap, tied_gap."""
    rows = []
    for condition, group in table.groupby(CONDITION, sort=True):
        row = dict(zip(CONDITION, condition, strict=True))
        for metric, prefix, best_is_max in (("test_accuracy", "test_accuracy", True), ("accuracy_gap", "gap", False)):
            ordered = group.sort_values([f"{metric}_mean", "technique_set"], ascending=[not best_is_max, True])
            best = ordered.iloc[0]
            if best_is_max:
                tied = ordered[ordered[f"{metric}_high"] >= best[f"{metric}_low"]]
            else:
                tied = ordered[ordered[f"{metric}_low"] <= best[f"{metric}_high"]]
            winner = "best_test_accuracy" if best_is_max else "smallest_gap"
            row[winner] = best["technique_set"]
            row[f"tied_{prefix}"] = ", ".join(t for t in tied["technique_set"] if t != best["technique_set"])
        rows.append(row)
    return pd.DataFrame(rows)

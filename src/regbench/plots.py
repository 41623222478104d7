"""Seaborn figures of the generalization gap, one function per figure; each returns a Figure.

Means and 95% CIs come precomputed from `aggregate` (no bootstrap), so figures are deterministic.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from regbench.aggregate import BASELINE, CONDITION, METRICS  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")
BASELINE_COLOR, OTHER_COLOR = "#4d4d4d", "#4c72b0"


def condition_label(dataset: str, train_size: int, model: str) -> str:
    return f"{dataset} n={train_size} {model}"


def save(fig: plt.Figure, path: Path) -> Path:
    """PNG without metadata (no software version or date), so equal data gives equal bytes;
    written beside `path` and renamed, so a crash never leaves half an image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    os.replace(tmp, path)
    return path


def gap_by_set(table: pd.DataFrame) -> plt.Figure:
    """Figure 1: accuracy and loss gap per technique set (rows: conditions), mean with 95% CI."""
    conditions = list(table.groupby(CONDITION, sort=True))
    n_sets = table.groupby(CONDITION).size().max()
    fig, axes = plt.subplots(
        len(conditions),
        2,
        figsize=(11, 0.9 + 0.32 * n_sets * len(conditions) + 0.6 * len(conditions)),
        squeeze=False,
        layout="constrained",
    )
    for row, (condition, group) in enumerate(conditions):
        group = group.sort_values("technique_set", key=lambda s: s.map(lambda v: (v != BASELINE, v)))
        for col, metric in enumerate(("accuracy_gap", "loss_gap")):
            ax = axes[row, col]
            mean = group[f"{metric}_mean"].to_numpy()
            err = np.vstack([mean - group[f"{metric}_low"].to_numpy(), group[f"{metric}_high"].to_numpy() - mean])
            colors = [BASELINE_COLOR if s == BASELINE else OTHER_COLOR for s in group["technique_set"]]
            y = np.arange(len(group))
            ax.barh(y, mean, xerr=np.nan_to_num(err), color=colors, capsize=3)
            ax.set_yticks(y, group["technique_set"] if col == 0 else [""] * len(group))
            ax.invert_yaxis()
            if BASELINE in set(group["technique_set"]):
                ax.axvline(mean[0], color=BASELINE_COLOR, linestyle="--", linewidth=1)
            ax.set_title(f"{condition_label(*condition)}: {METRICS[metric]}", fontsize=10)
    fig.suptitle("Generalization gap per technique set (mean, 95% CI across seeds; grey = baseline)")
    return fig


def learning_curves(curve: pd.DataFrame, mine: pd.DataFrame, condition: tuple) -> plt.Figure:
    """Figure 2: train (dashed) and validation (solid) loss and accuracy per technique set, mean
    over seeds with a band of +-1 standard deviation; dotted lines mark early-stopping epochs.
    `curve` is aggregate.curves() of this condition, `mine` its ok cells."""
    sets = sorted(mine["technique_set"].unique(), key=lambda v: (v != BASELINE, v))
    palette = dict(zip(sets, sns.color_palette("tab10" if len(sets) <= 10 else "tab20", len(sets)), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    parts = dict(tuple(curve.groupby(["technique_set", "metric", "split"], sort=True)))
    empty = curve.iloc[:0]
    for ax, metric, label in ((axes[0], "xent", "cross-entropy loss"), (axes[1], "accuracy", "accuracy")):
        for technique_set in sets:
            for split, style in (("train", "--"), ("val", "-")):
                c = parts.get((technique_set, metric, split), empty)
                ax.plot(
                    c["epoch"],
                    c["mean"],
                    style,
                    color=palette[technique_set],
                    linewidth=1.3,
                    label=technique_set if split == "val" else None,
                )
                ax.fill_between(
                    c["epoch"],
                    c["mean"] - c["std"].fillna(0),
                    c["mean"] + c["std"].fillna(0),
                    color=palette[technique_set],
                    alpha=0.12,
                    linewidth=0,
                )
            stopped = mine[(mine["technique_set"] == technique_set) & (mine["epochs_run"] < mine["epochs"])]
            for epoch in sorted(set(stopped["epochs_run"])):
                ax.axvline(epoch, color=palette[technique_set], linestyle=":", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
    axes[1].legend(fontsize=8, loc="lower right", title="solid: validation, dashed: train", title_fontsize=8)
    fig.suptitle(f"Learning curves: {condition_label(*condition)} (mean over seeds, band +-1 sd; dotted: early stop)")
    return fig


def effect_heatmap(effects: pd.DataFrame) -> plt.Figure:
    """Figure 3: change against baseline (percentage points) in accuracy gap and test accuracy,
    technique set x condition; * marks a 95% CI that excludes zero and Holm p < 0.05."""
    n_conditions = len(effects[CONDITION].drop_duplicates())
    size = (4 + 3.2 * n_conditions, 2.8 + 0.5 * effects["technique_set"].nunique())
    fig, axes = plt.subplots(1, 2, figsize=size, layout="constrained")
    for ax, metric, cmap in ((axes[0], "accuracy_gap", "RdBu_r"), (axes[1], "test_accuracy", "RdBu")):
        part = effects[effects["metric"] == metric].copy()
        part["condition"] = [condition_label(*c).replace(" ", "\n", 1) for c in part[CONDITION].itertuples(index=False)]
        values = part.pivot(index="technique_set", columns="condition", values="mean") * 100
        marks = part.assign(mark=(part["distinguishable"] & (part["p_holm"] < 0.05)).map({True: "*", False: ""}))
        marks = marks.pivot(index="technique_set", columns="condition", values="mark").reindex_like(values).fillna("")
        annot = values.map(lambda v: f"{v:+.1f}" if np.isfinite(v) else "") + marks
        limit = float(np.nanmax(np.abs(values.to_numpy()))) if values.size else 1.0
        sns.heatmap(
            values,
            annot=annot,
            fmt="",
            cmap=cmap,
            center=0,
            vmin=-limit,
            vmax=limit,
            ax=ax,
            cbar_kws={"label": "pp vs baseline"},
            xticklabels=list(values.columns),
            yticklabels=list(values.index) if ax is axes[0] else False,
        )
        ax.set_title(f"change in {METRICS[metric]}, pp")
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.suptitle("Effect against baseline, paired by seed (* = CI excludes 0 and Holm p < 0.05)")
    return fig


def train_vs_test(cells: pd.DataFrame) -> plt.Figure:
    """Figure 4: train vs test accuracy of every cell; the distance below the diagonal is the gap."""
    data = cells[cells["status"] == "ok"].assign(
        condition=lambda d: [condition_label(*c) for c in d[CONDITION].itertuples(index=False)]
    )
    fig, ax = plt.subplots(figsize=(7.5, 6), layout="constrained")
    sets = sorted(data["technique_set"].unique(), key=lambda v: (v != BASELINE, v))
    sns.scatterplot(
        data=data,
        x="train_accuracy",
        y="test_accuracy",
        hue="technique_set",
        hue_order=sets,
        style="condition",
        ax=ax,
        s=45,
        alpha=0.8,
    )
    low = float(min(data["train_accuracy"].min(), data["test_accuracy"].min(), 1.0))
    ax.plot([low, 1], [low, 1], color="black", linewidth=1, linestyle="--", label="train = test")
    ax.set_xlabel("train accuracy (clean pass)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Where overfitting lives: every cell, train vs test accuracy")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def effect_vs_train_size(effects: pd.DataFrame) -> plt.Figure:
    """Figure 5: change in accuracy gap against baseline as train size grows, per dataset/model."""
    part = effects[effects["metric"] == "accuracy_gap"]
    groups = list(part.groupby(["dataset", "model"], sort=True))
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False, layout="constrained")
    for ax, ((dataset, model), group) in zip(axes[0], groups, strict=True):
        for technique_set, line in group.groupby("technique_set", sort=True):
            line = line.sort_values("train_size")
            ax.errorbar(
                line["train_size"],
                line["mean"] * 100,
                yerr=np.nan_to_num(np.vstack([line["mean"] - line["low"], line["high"] - line["mean"]]) * 100),
                marker="o",
                capsize=3,
                label=technique_set,
            )
        ax.axhline(0, color=BASELINE_COLOR, linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("train size (examples, log scale)")
        ax.set_ylabel("change in accuracy gap vs baseline (pp)")
        ax.set_title(f"{dataset} {model}")
    axes[0, -1].legend(fontsize=8)
    return fig


def interaction_heatmap(factorial: pd.DataFrame, metric: str = "accuracy_gap") -> plt.Figure:
    """Figure 6: factorial designs: main effects (diagonal) and two-way interactions (off the
    diagonal) on `metric`, in percentage points, one panel per condition."""
    part = factorial[factorial["metric"] == metric]
    groups = list(part.groupby(CONDITION, sort=True))
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.5), squeeze=False, layout="constrained")
    for ax, (condition, group) in zip(axes[0], groups, strict=True):
        names = sorted(group[group["kind"] == "main"]["term"])
        matrix = pd.DataFrame(np.nan, index=names, columns=names)
        for row in group.itertuples():
            a, _, b = row.term.partition(" x ")
            matrix.loc[a, b or a] = row.mean * 100
            if b:
                matrix.loc[b, a] = row.mean * 100
        # Explicit tick labels: seaborn's automatic ones lay the whole figure out once per panel.
        ticks = list(matrix.columns)
        sns.heatmap(
            matrix,
            annot=True,
            fmt="+.1f",
            cmap="RdBu_r",
            center=0,
            ax=ax,
            cbar_kws={"label": "pp"},
            xticklabels=ticks,
            yticklabels=ticks,
        )
        ax.set_title(condition_label(*condition), fontsize=10)
    fig.suptitle(f"Factorial: main effects (diagonal) and interactions on {METRICS[metric]}, pp")
    return fig

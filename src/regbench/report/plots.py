"""Seaborn figures of the generalization gap, one function per figure; each returns a Figure.

Means and 95% CIs come precomputed from `aggregate` (no bootstrap), so figures are deterministic.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from regbench.analysis.aggregate import BASELINE, CONDITION, METRICS, SETTING  # noqa: E402
from regbench.analysis.labels import condition_label, dataset_label, dataset_labels, legend, short_label  # noqa: E402
from regbench.grid.naming import data_label  # noqa: E402
from regbench.records.disk import atomic_write  # noqa: E402
from regbench.report.text import signed  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")
BASELINE_COLOR, OTHER_COLOR = "#4d4d4d", "#4c72b0"


def save(fig: plt.Figure, path: Path) -> Path:
    """PNG without metadata (no software version or date), so equal data gives equal bytes;
    written atomically, so a crash never leaves half an image."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    atomic_write(path, buffer.getvalue())
    return path


def gap_by_set(table: pd.DataFrame) -> plt.Figure:
    """Figure 1: accuracy and loss gap per technique set, one row of panels per dataset, one colour
    per train size and model; mean with 95% CI. The baseline row is shaded and its means are
    continued as dashed lines, so every set reads against it."""
    table = table.assign(data=dataset_labels(table))
    datasets = list(dict.fromkeys(table.sort_values(SETTING[:3])["data"]))
    n_sets = table.groupby("data")["technique_set"].nunique().max()
    n_conditions = table.groupby("data")[["train_size", "model"]].value_counts().groupby("data").size().max()
    height = 1.2 + len(datasets) * (0.8 + 0.16 * n_sets * max(2, n_conditions) ** 0.5)
    fig, axes = plt.subplots(len(datasets), 2, figsize=(12, height), squeeze=False, layout="constrained")
    for row, dataset in enumerate(datasets):
        part = table[table["data"] == dataset]
        sets = sorted(part["technique_set"].unique(), key=lambda v: (v != BASELINE, v))
        y_of = {s: i for i, s in enumerate(sets)}
        conditions = sorted(set(zip(part["train_size"], part["model"], strict=True)))
        colors = sns.color_palette("viridis", len(conditions)) if len(conditions) > 1 else [OTHER_COLOR]
        step = 0.7 / len(conditions)  # conditions side by side within a set's row
        for col, metric in enumerate(("accuracy_gap", "loss_gap")):
            ax = axes[row, col]
            if BASELINE in y_of:
                ax.axhspan(-0.5, 0.5, color="#e6e6e6", zorder=0)
            for j, ((size, model), color) in enumerate(zip(conditions, colors, strict=True)):
                c = part[(part["train_size"] == size) & (part["model"] == model)]
                mean = c[f"{metric}_mean"].to_numpy()
                err = np.vstack([mean - c[f"{metric}_low"].to_numpy(), c[f"{metric}_high"].to_numpy() - mean])
                y = c["technique_set"].map(y_of).to_numpy() - 0.35 + step * (j + 0.5)
                ax.errorbar(mean, y, xerr=np.nan_to_num(err), fmt="o", color=color, capsize=2, markersize=4,
                            label=f"n={size} {model}")  # fmt: skip
                base = c[c["technique_set"] == BASELINE]
                if len(base):
                    ax.axvline(base[f"{metric}_mean"].iloc[0], color=color, linestyle="--", linewidth=0.8)
            ax.set_yticks(range(len(sets)), [short_label(s) for s in sets] if col == 0 else [""] * len(sets))
            ax.set_ylim(len(sets) - 0.5, -0.5)
            ax.set_xlabel(METRICS[metric])
            ax.set_title(f"{dataset}: {METRICS[metric]}", fontsize=10)
        axes[row, 1].legend(
            fontsize=8, title="train size, model", title_fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1)
        )
    labels = table["technique_set"].unique()
    fig.suptitle(
        "Generalization gap per technique set (mean, 95% CI across seeds; shaded, dashed: baseline)\n"
        + textwrap.fill(legend(labels), 110),
        wrap=True,
    )
    return fig


def learning_curves(curve: pd.DataFrame, mine: pd.DataFrame) -> plt.Figure:
    """Figure 2: small multiples for one condition (dataset, train size, model): a panel per
    technique set with the baseline drawn in grey in every panel for reference; cross-entropy
    loss, train dashed and validation solid (band: +-1 sd over seeds), mean over seeds, against
    optimizer steps (or epochs under an epochs budget). A dotted line marks the median step
    (epoch) at which early stopping ended the seeds it stopped. `curve` is aggregate.curves() of
    this condition, `mine` its ok cells."""
    x = "step" if mine["steps"].notna().any() else "epoch"  # steps budgets: the x axis in steps
    run, budget = ("steps_run", "steps") if x == "step" else ("epochs_run", "epochs")
    stops = mine[mine[run] < mine[budget]].groupby("technique_set")[run].median()
    sets = sorted(mine["technique_set"].unique(), key=lambda v: (v != BASELINE, v))
    panels = [s for s in sets if s != BASELINE] or sets
    fig, axes = panel_grid(len(panels), 5, (3.2, 2.5), extra_height=0.9, sharex=True, sharey=True)
    parts = dict(tuple(curve[curve["metric"] == "xent"].groupby(["technique_set", "split"], sort=True)))
    empty = curve.iloc[:0]
    values = curve.loc[curve["metric"] == "xent", "mean"].to_numpy()
    top = float(np.nanpercentile(values, 98)) * 1.1 if values.size else 1.0  # a few early spikes set no scale

    def draw(ax: plt.Axes, technique_set: str, color: str, band: bool) -> None:
        # Each mean is over every seed of the set, so a curve ends where its first seed stopped:
        # averaging the seeds still running would make it jump.
        train, val = (parts.get((technique_set, split), empty) for split in ("train", "val"))
        train, val = train[train["count"] == train["seeds"]], val[val["count"] == val["seeds"]]
        ax.plot(train[x], train["mean"], "--", color=color, linewidth=1.0)
        ax.plot(val[x], val["mean"], "-", color=color, linewidth=1.4)
        if band:  # the panel's own set only: the baseline's band in every panel swamped the sets
            spread = val["std"].fillna(0)
            ax.fill_between(val[x], val["mean"] - spread, val["mean"] + spread, color=color, alpha=0.15, lw=0)

    for ax, technique_set in zip(axes.flat, panels, strict=False):
        if technique_set != BASELINE:
            draw(ax, BASELINE, BASELINE_COLOR, band=False)
        draw(ax, technique_set, OTHER_COLOR, band=True)
        if technique_set in stops.index:
            ax.axvline(stops[technique_set], color=OTHER_COLOR, linestyle=":", linewidth=1.2)
        ax.set_title(wrapped(short_label(technique_set)), fontsize=9)
        ax.set_ylim(0, top)
    for ax in axes[-1]:
        ax.set_xlabel("optimizer step" if x == "step" else "epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("cross-entropy")
    condition = condition_label(*mine[CONDITION].iloc[0])
    fig.suptitle(
        f"Learning curves: {condition} (blue: the set, ±1 sd over seeds; grey: baseline; solid: validation, "
        "dashed: train; dotted: median early stop; a curve ends where its first seed stopped)\n"
        + textwrap.fill(legend(panels), 40 * axes.shape[1]),
        fontsize=10,
        wrap=True,  # to the figure's width: one line ran past both edges of a figure of four panels or fewer
    )
    return fig


def wrapped(label: str, width: int = 30) -> str:
    """A set label broken after its '+' signs into lines of about `width` characters."""
    lines, line = [], ""
    for part in label.split("+"):
        if line and len(line) + len(part) + 1 > width:
            lines.append(line + "+")
            line = part
        else:
            line = f"{line}+{part}" if line else part
    return "\n".join([*lines, line])


def effect_heatmap(effects: pd.DataFrame) -> plt.Figure:
    """Figure 3: change against baseline (percentage points) in accuracy gap and test accuracy,
    technique set x condition; * marks an established effect (95% CI excludes 0 and Holm p <
    0.05), ~ a suggestive one (the CI alone). The colour scale is symmetric and saturates at the
    90th percentile of |change|, so one large harm does not wash out the rest (values printed).
    Conditions whose baseline underfits are labelled "not testable"."""
    n_conditions = len(effects[CONDITION].drop_duplicates())
    longest = max(len(short_label(v)) for v in effects["technique_set"].unique())  # row labels take room too
    size = (3 + 3.2 * n_conditions + 0.09 * longest, 3.2 + 0.5 * effects["technique_set"].nunique())
    fig, axes = plt.subplots(1, 2, figsize=size, layout="constrained")
    testable = effects["testable"] if "testable" in effects else pd.Series(True, index=effects.index)
    untestable = set(map(tuple, effects.loc[~testable.astype(bool), CONDITION].itertuples(index=False)))

    def label(c: tuple) -> str:  # one word a line: long condition labels must not run into each other
        section, dataset, imbalance, size, model = c
        words = [f"{section}/"] * bool(section) + [data_label(dataset, imbalance), f"n={size}", model]
        return "\n".join(words) + ("\n(not testable)" if tuple(c) in untestable else "")

    # One colour map, one direction (blue = a rise) in both panels: a smaller gap is red, as a fall is.
    for ax, metric, cmap in ((axes[0], "accuracy_gap", "RdBu"), (axes[1], "test_accuracy", "RdBu")):
        part = effects[effects["metric"] == metric].copy()
        part["condition"] = [label(c) for c in part[CONDITION].itertuples(index=False)]
        order = [label(c) for c in sorted(set(part[CONDITION].itertuples(index=False)))]
        values = part.pivot(index="technique_set", columns="condition", values="mean").reindex(columns=order) * 100
        values.index = [short_label(s) for s in values.index]
        marks = part.assign(mark=part["evidence"].map({"established": "*", "suggestive": "~"}).fillna(""))
        marks = marks.pivot(index="technique_set", columns="condition", values="mark").rename(index=short_label)
        marks = marks.reindex_like(values).fillna("")
        annot = values.map(lambda v: signed(v) if np.isfinite(v) else "n/a") + marks
        finite = np.abs(values.to_numpy()[np.isfinite(values.to_numpy())])
        limit = float(np.percentile(finite, 90)) if finite.size else 1.0
        annotated_heatmap(ax, values, annot, cmap, limit, "pp vs baseline (colour clipped)", row_labels=ax is axes[0])
        ax.set_title(
            f"change in {METRICS[metric]}, pp" + (" (negative: a smaller gap)" if metric == "accuracy_gap" else ""),
            wrap=True,  # a narrow figure (two conditions) clipped it on the left
        )
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.suptitle(
        "Effect against baseline, paired by seed (on test accuracy, the primary endpoint: * established, CI excludes 0 "
        "and Holm p < 0.05 within the condition; ~ suggestive)\n"
        + textwrap.fill(legend(effects["technique_set"].unique()), int(9 * size[0])),
        wrap=True,
    )
    return fig


def annotated_heatmap(
    ax: plt.Axes,
    values: pd.DataFrame,
    annot: pd.DataFrame,
    cmap: str,
    limit: float,
    label: str | None = None,
    row_labels: bool = True,
    xrotation: float = 0,
) -> QuadMesh:
    """A heatmap centred on zero with a text label per cell, and a colour bar if `label` is
    given. Drawn with matplotlib, not sns.heatmap: seaborn renders the whole figure once per
    heatmap to check label overlap, which made a 10-panel figure take 10 s."""
    limit = limit if np.isfinite(limit) and limit > 0 else 1.0
    data = values.to_numpy(dtype=float)
    mesh = ax.pcolormesh(np.ma.masked_invalid(data), cmap=cmap, vmin=-limit, vmax=limit)
    if label:
        ax.figure.colorbar(mesh, ax=ax, label=label)
    norm = mesh.norm
    for (i, j), text in np.ndenumerate(annot.to_numpy()):
        if text:  # white text on strong colours, as seaborn does; a cell without a value in grey
            color = "grey" if not np.isfinite(data[i, j]) else "white" if abs(norm(data[i, j]) - 0.5) > 0.3 else "black"
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=9, color=color)
    ax.set_xticks(np.arange(data.shape[1]) + 0.5, list(values.columns), rotation=xrotation)
    ax.set_yticks(np.arange(data.shape[0]) + 0.5, list(values.index) if row_labels else [""] * data.shape[0])
    ax.set_xlim(0, data.shape[1])
    ax.set_ylim(data.shape[0], 0)  # first row at the top, as in a table
    ax.grid(False)
    return mesh


def panel_grid(
    count: int, max_columns: int, panel: tuple[float, float], extra_height: float = 0.0, **shared: bool
) -> tuple[plt.Figure, np.ndarray]:
    """A figure of `count` panels of `panel` inches (width, height), at most `max_columns` a row;
    the grid's unused axes hidden."""
    columns = min(max_columns, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(panel[0] * columns, extra_height + panel[1] * rows),
                             squeeze=False, layout="constrained", **shared)  # fmt: skip
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, axes


def train_vs_test(cells: pd.DataFrame) -> plt.Figure:
    """Figure 3: train vs test accuracy, one panel per condition: every cell a faint dot, each
    set's mean a labelled point, the baseline in black; the distance below the diagonal is the gap."""
    data = cells[cells["status"] == "ok"]
    groups = list(data.groupby(CONDITION, sort=True))
    fig, axes = panel_grid(len(groups), 3, (5.2, 4.6))
    for ax, (condition, part) in zip(axes.flat, groups, strict=False):
        base = part["technique_set"] == BASELINE
        ax.scatter(
            part.loc[~base, "train_accuracy"],
            part.loc[~base, "test_accuracy"],
            s=10,
            color=OTHER_COLOR,
            alpha=0.3,
            lw=0,
        )
        ax.scatter(part.loc[base, "train_accuracy"], part.loc[base, "test_accuracy"], s=24, color=BASELINE_COLOR, lw=0)
        means = part.groupby("technique_set")[["train_accuracy", "test_accuracy"]].mean()
        for name, (train, test) in means.iterrows():
            color = BASELINE_COLOR if name == BASELINE else OTHER_COLOR
            ax.scatter([train], [test], s=60 if name == BASELINE else 30, color=color, edgecolor="white", zorder=3)
            ax.annotate(short_label(name), (train, test), xytext=(4, 0), textcoords="offset points", fontsize=7,
                        va="center", color=color)  # fmt: skip
        low = float(min(part["train_accuracy"].min(), part["test_accuracy"].min()))
        ax.plot([low, 1], [low, 1], color="black", linewidth=0.8, linestyle="--")
        ax.set_title(condition_label(*condition), fontsize=10)
        ax.set_xlabel("train accuracy (clean pass)")
        ax.set_ylabel("test accuracy")
    sets = sorted(data["technique_set"].unique(), key=lambda v: (v != BASELINE, v))
    fig.suptitle(
        "Where overfitting lives: every cell (dots) and each set's mean (labelled), baseline in black; dashed: "
        "train = test\n" + textwrap.fill(legend(sets), 150),
        fontsize=9,
        wrap=True,
    )
    return fig


def effect_vs_train_size(effects: pd.DataFrame) -> plt.Figure:
    """Figure 5: change in accuracy gap against baseline as train size grows, per setting (the
    section's dataset and model)."""
    part = effects[effects["metric"] == "accuracy_gap"]
    groups = list(part.groupby(SETTING, sort=True))
    sets = sorted(part["technique_set"].unique())
    # The legend beside the panels, in short labels: inside the last panel, fashion's 26 full set
    # labels covered its lines and collapsed the layout.
    columns = 1 + (len(sets) - 1) // 16
    width = 0.6 + 0.06 * max((len(short_label(s)) for s in sets), default=10)  # inches per legend column
    room = max(width * columns, 2.8)  # and for the names the short labels stand for, above them
    colours = dict(zip(sets, sns.color_palette("husl", len(sets)), strict=True))  # a set's colour in every panel
    fig, axes = plt.subplots(
        1, len(groups), figsize=(5.5 * len(groups) + room, 4.5), squeeze=False, layout="constrained"
    )
    for ax, ((section, dataset, imbalance, model), group) in zip(axes[0], groups, strict=True):
        for technique_set, line in group.groupby("technique_set", sort=True):
            line = line.sort_values("train_size")
            ax.errorbar(
                line["train_size"],
                line["mean"] * 100,
                yerr=np.nan_to_num(np.vstack([line["mean"] - line["low"], line["high"] - line["mean"]]) * 100),
                marker="o",
                capsize=3,
                color=colours[technique_set],
                label=short_label(technique_set),
            )
        ax.axhline(0, color=BASELINE_COLOR, linewidth=1)
        ax.set_xscale("log")
        sizes = sorted(group["train_size"].unique())
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())  # 2x10^3, 3x10^3 ... ran together
        ax.set_xlabel("train size (examples, log scale)")
        ax.set_ylabel("change in accuracy gap vs baseline (pp)")
        ax.set_title(f"{dataset_label(section, dataset, imbalance)} {model}")
    handles: dict[str, Any] = {}  # every set once, whichever panels have it
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    labels = [label for label in map(short_label, sets) if label in handles]
    title = textwrap.fill(legend(sets), int(room * 14)) or None
    fig.legend(
        [handles[label] for label in labels],
        labels,
        loc="outside right upper",
        fontsize=7,
        ncols=columns,
        title=title,
        title_fontsize=7,
    )
    return fig


def interaction_heatmap(factorial: pd.DataFrame, metric: str = "test_accuracy") -> plt.Figure:
    """Figure 6: factorial designs: main effects (diagonal) and two-way interactions (off the
    diagonal) on `metric`, in percentage points, one panel per condition."""
    part = factorial[factorial["metric"] == metric]
    groups = list(part.groupby(CONDITION, sort=True))
    fig, axes = panel_grid(len(groups), 4, (5.5, 4.5))
    matrices = []
    for condition, group in groups:
        names = sorted(group[group["kind"] == "main"]["term"])
        matrix = pd.DataFrame(np.nan, index=names, columns=names)
        for row in group.itertuples():
            a, _, b = row.term.partition(" x ")
            matrix.loc[a, b or a] = row.mean * 100
            if b:
                matrix.loc[b, a] = row.mean * 100
        matrices.append((condition, matrix))
    # One colour scale for every panel, so that equal colours mean equal effects.
    limit = max((float(np.nanmax(np.abs(m.to_numpy()))) for _, m in matrices if m.notna().any().any()), default=1.0)
    for ax, (condition, matrix) in zip(axes.flat, matrices, strict=False):  # spare panels are hidden
        annot = matrix.map(lambda v: signed(v) if np.isfinite(v) else "")
        mesh = annotated_heatmap(ax, matrix, annot, "RdBu_r", limit, xrotation=30)
        ax.set_title(condition_label(*condition), fontsize=10)
    fig.colorbar(mesh, ax=axes, label="pp", shrink=0.6)
    fig.suptitle(f"Factorial: main effects (diagonal) and interactions on {METRICS[metric]}, pp", wrap=True)
    return fig


def effect_vs_parameter(sweeps: pd.DataFrame) -> plt.Figure:
    """Figure 7: one row per sweep: change against baseline in accuracy gap (left) and test
    accuracy (right) against the swept value, one line per dataset, train size and model."""
    names = sorted(sweeps["sweep"].unique())
    metrics = [("accuracy_gap", "change in accuracy gap (pp)"), ("test_accuracy", "change in test accuracy (pp)")]
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 3.6 * len(names)), squeeze=False, layout="constrained")
    for row, name in enumerate(names):
        for ax, (metric, ylabel) in zip(axes[row], metrics, strict=True):
            part = sweeps[(sweeps["sweep"] == name) & (sweeps["metric"] == metric)]
            for condition, line in part.groupby(CONDITION, sort=True):
                line = line.sort_values("value")
                ax.errorbar(
                    line["value"].astype(float),
                    line["mean"] * 100,
                    yerr=np.nan_to_num(np.vstack([line["mean"] - line["low"], line["high"] - line["mean"]]) * 100),
                    marker="o",
                    capsize=3,
                    label=condition_label(*condition),
                )
            ax.axhline(0, color=BASELINE_COLOR, linewidth=1)
            values = part["value"].astype(float)
            if len(values) and values.min() > 0 and values.max() / values.min() >= 20:  # penalty factors
                ax.set_xscale("log")
            ax.set_xlabel(name)
            ax.set_ylabel(ylabel)
        axes[row, 1].legend(fontsize=7)
    return fig

"""The figures of a report, declared once: each figure's name, number, caption, the report section
it is shown in, its plot function, the data it reads and its file name. Drawing (report/write.py),
the page (report/page.py) and the summary's references ("Figure 3") all read this list.

Adding a figure = a function in report/plots.py and a Figure here; it is then drawn whenever its
`drawings` returns something, and shown at the end of its section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from regbench.analysis import aggregate as agg
from regbench.analysis.collect import Analysis
from regbench.analysis.labels import condition_label
from regbench.grid.naming import data_label
from regbench.report import plots
from regbench.report.text import anchor


class Drawing(NamedTuple):
    """One drawing of a figure: `key` tells the drawings of one figure apart ("" for a figure drawn
    once; the condition for learning curves), `args` go to the plot function, `file` is its name."""

    key: str
    args: tuple
    file: str


@dataclass(frozen=True)
class Figure:
    name: str
    number: int
    section: str  # the title of the report section it is shown in
    caption: str  # with {number} and, for a figure drawn per key, {key}
    plot: Callable[..., Any]  # a report/plots.py function: args -> matplotlib Figure
    drawings: Callable[[Analysis], list[Drawing]]  # what to draw from the analysis ([]: not drawn)
    slow: bool = False  # drawn first, so that parallel workers finish together

    def caption_for(self, key: str, index: int | None = None) -> str:
        """The caption of one drawing; the drawings of a figure drawn per key are numbered 4.1, 4.2, ..."""
        number = f"{self.number}.{index + 1}" if index is not None else f"{self.number}"
        return self.caption.format(number=number, key=key)


def once(file: str, *args: Any) -> list[Drawing]:
    return [Drawing("", args, file)]


def curve_drawings(a: Analysis) -> list[Drawing]:
    """Learning curves: one figure per condition."""
    if not len(a.summary):
        return []
    cells = dict(tuple(agg.ok(a.arms).groupby(agg.CONDITION, sort=True)))
    out = []
    for condition, curve in a.curves.groupby(agg.CONDITION, sort=True):
        section, dataset, imbalance, size, model = condition
        where = "_".join(filter(None, [section, data_label(dataset, imbalance)]))  # 'A-cpu_fashion_mnist'
        out.append(
            Drawing(
                condition_label(*condition), (curve, cells[condition]), f"learning_curves_{where}_n{size}_{model}.png"
            )
        )
    return out


def several_sizes(a: Analysis) -> bool:
    return bool(len(a.effects)) and a.effects.groupby(agg.SETTING)["train_size"].nunique().max() > 1


# In the order the report shows them: their numbers.
FIGURES: list[Figure] = [
    Figure("gap", 1, "Results per technique set",
           "Figure {number}: generalization gap per technique set, 95% CI error bars, baseline in grey.",
           plots.gap_by_set, lambda a: once("gap_by_set.png", a.summary) if len(a.summary) else []),
    Figure("heatmap", 2, "Effects against the baseline",
           "Figure {number}: change against baseline in accuracy gap and test accuracy (blue: a rise); * = "
           "established, ~ = suggestive on test accuracy, the primary endpoint (the significance rule, within each "
           "condition's family); colours saturate at the 90th percentile of |change|.",
           plots.effect_heatmap, lambda a: once("effect_heatmap.png", a.effects) if len(a.effects) else [], slow=True),
    Figure("scatter", 3, "Where overfitting lives",
           "Figure {number}: train vs test accuracy, one panel per condition: every cell, and each set's mean; the "
           "distance below the diagonal is the accuracy gap.",
           plots.train_vs_test, lambda a: once("train_vs_test.png", a.arms) if len(a.summary) else []),
    Figure("curves", 4, "Learning curves",
           "Figure {number} ({key}): cross-entropy per technique set against the baseline (grey), train dashed, "
           "validation solid, mean over seeds; a dotted line marks the median early stop.",
           plots.learning_curves, curve_drawings, slow=True),
    Figure("sizes", 5, "Effect against train size",
           "Figure {number}: change in accuracy gap against baseline as the train size grows.",
           plots.effect_vs_train_size,
           lambda a: once("effect_vs_train_size.png", a.effects) if several_sizes(a) else []),
    Figure("interactions", 6, "Factorial design: main effects and interactions",
           "Figure {number}: main effects (diagonal) and two-way interactions on test accuracy, pp.",
           plots.interaction_heatmap, lambda a: once("interactions.png", a.factorial) if len(a.factorial) else [],
           slow=True),
    Figure("sweeps", 7, "Sweeps: effect against the parameter",
           "Figure {number}: change against baseline in accuracy gap and test accuracy as the swept parameter "
           "grows, 95% CI.",
           plots.effect_vs_parameter, lambda a: once("effect_vs_parameter.png", a.sweeps) if len(a.sweeps) else []),
]  # fmt: skip


# Where each drawn figure went, relative to the report: (figure name, drawing key) -> path.
Links = dict[tuple[str, str], str]


def figures_in(section: str, links: Links) -> str:
    """The markdown of the drawn figures shown in `section`, in the order they were drawn."""
    shown = {f.name: f for f in FIGURES if f.section == section}
    out, seen = [], {}
    for (name, key), path in links.items():
        if name in shown:
            index = seen.setdefault(name, 0) if key else None
            seen[name] = seen[name] + 1 if key else 0
            caption = shown[name].caption_for(key, index)
            out.append(f"![{caption}]({path})\n\n*{caption}*\n")
    return "\n".join(out)


def figure(name: str) -> Figure:
    return next(f for f in FIGURES if f.name == name)


def reference(name: str) -> str:
    """'[Figure 3](#where-overfitting-lives)': how the text refers to a figure, linked to the
    section it is shown in (which may be folded)."""
    found = figure(name)
    return f"[Figure {found.number}](#{anchor(found.section)})"

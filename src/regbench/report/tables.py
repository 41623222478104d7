"""The report's tables in markdown: results per set, the regime, tuned rates, and effects with
their verdicts under the significance rule."""

from __future__ import annotations

import math

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis.collect import Analysis
from regbench.grid.labels import condition_label
from regbench.report.summary import cond, md_table, p_text, plus_minus, pp


def results_section(t: Analysis) -> str:
    parts = []
    for condition, group in t.summary.groupby(agg.CONDITION, sort=True):
        group = group.sort_values("technique_set", key=lambda s: s.map(lambda v: (v != agg.BASELINE, v)))
        rows = list(group.itertuples())

        def column(metric: str, scale: float = 100, digits: int = 1, rows=rows) -> list[str]:
            return [
                plus_minus(getattr(r, f"{metric}_mean"), getattr(r, f"{metric}_low"), getattr(r, f"{metric}_high"), scale, digits)
                for r in rows
            ]  # fmt: skip

        table = pd.DataFrame(
            {
                "technique set": group["technique_set"],
                "n": group["n"],
                "train accuracy (%)": column("train_accuracy"),
                "test accuracy (%)": column("test_accuracy"),
                "test at best val (%)": column("best_val_test_accuracy"),
                "accuracy gap (pp)": column("accuracy_gap"),
                "loss gap": column("loss_gap", 1, 3),
                "steps run": column("steps_run", 1, 0),
                "s/evaluation": column("time_per_epoch_s", 1, 3),
            }
        )
        parts.append(f"### {condition_label(*condition)}\n\n{md_table(table)}\n")
    return "\n".join(parts)


def regime_section(t: Analysis) -> str:
    """Per condition: the baseline's clean train and test accuracy, its gap, and whether the
    condition can answer the gap question."""
    rows = [
        {"condition": cond(r), "baseline n": int(r["n"]),
         "train accuracy (%)": f"{100 * r['train_accuracy']:.1f}" if r["n"] else "-",
         "test accuracy (%)": f"{100 * r['test_accuracy']:.1f}" if r["n"] else "-",
         "accuracy gap (pp)": pp(r["gap_mean"], r["gap_low"], r["gap_high"]) if r["n"] else "-",
         "threshold (%)": f"{100 * r['threshold']:g}", "testable": "yes" if r["testable"] else f"no: {r['reason']}"}
        for _, r in t.regime.iterrows()
    ]  # fmt: skip
    return (
        "A regularizer can only shrink a gap that exists: a condition is "
        "testable when its baseline (at its tuned learning rate) fits its training set, i.e. its mean clean train "
        "accuracy reaches the grid's threshold (`min_train_accuracy`). Effects and claims in the other conditions "
        "read *not testable*.\n\n" + md_table(pd.DataFrame(rows)) + "\n"
    )


def rates_section(rates: pd.DataFrame) -> str:
    """The learning rate each technique set kept, per condition, and what each rate scored."""
    table = pd.DataFrame(
        {
            "condition": [cond(r) for _, r in rates.iterrows()],
            "technique set": rates["technique_set"],
            "chosen rate": [f"{v:g}" for v in rates["learning_rate"]],
            "validation accuracy per rate (mean over seeds)": rates["tried"],
        }
    )
    return (
        "Every cell ran at each rate of the grid; each technique set keeps, per "
        "condition, the rate with the best mean validation accuracy (never test accuracy). All other tables "
        "compare these tuned arms.\n\n" + md_table(table) + "\n"
    )


# Verdict words per kind of row: (better, worse) on the gap and on test accuracy, and "none" when
# the interval includes zero. Factorial terms and leave-one-out contributions are not comparisons
# with the baseline and say so.
WORDS = {
    "technique_set": {"none": "not distinguishable from baseline", "accuracy_gap": ("smaller gap", "larger gap"),
                      "test_accuracy": ("higher accuracy", "lower accuracy")},
    "term": {"none": "no main effect distinguishable from 0", "accuracy_gap": ("shrinks the gap", "widens the gap"),
             "test_accuracy": ("raises test accuracy", "lowers test accuracy")},
    "interaction": {"none": "no interaction distinguishable from 0",
                    "accuracy_gap": ("together shrink the gap more than each alone adds up to", "together shrink the gap less than each alone adds up to"),
                    "test_accuracy": ("together add more accuracy than each alone", "together add less accuracy than each alone")},
    "technique": {"none": "no contribution distinguishable from 0", "accuracy_gap": ("helps the recipe shrink the gap", "widens the recipe's gap"),
                  "test_accuracy": ("adds test accuracy to the recipe", "costs the recipe test accuracy")},
}  # fmt: skip


def effects_table(frame: pd.DataFrame, label: str, notes: dict[tuple, str] | None = None) -> str:
    """One row per condition and set/term: gap and accuracy effects side by side, and verdicts;
    "not testable" with the reason where evidence.judge found one. `notes`: whether techniques
    with a trigger fired, per condition and set (evidence.trigger_notes)."""
    if frame.empty:
        return "_none_"
    key = [*agg.CONDITION, label]
    wide = frame.pivot_table(
        index=key,
        columns="metric",
        values=["mean", "low", "high", "p_holm", "n", "evidence", "seeds_needed"],
        aggfunc="first",
    )
    why_not = frame.groupby(key, sort=True)["why_not"].first() if "why_not" in frame else {}
    rows = []
    for index, r in wide.iterrows():
        row = dict(zip(key, index, strict=True))

        def get(stat, metric, r=r):
            return r.get((stat, metric), math.nan)

        words = WORDS["interaction" if label == "term" and " x " in row[label] else label]

        def verdict(metric, get=get, index=index, words=words):
            if why_not.get(index):
                return f"not testable: {why_not[index]}"
            if get("evidence", metric) not in ("established", "suggestive"):
                return words["none"]
            good, bad = words[metric]
            text = good if (get("mean", metric) < 0) == (metric != "test_accuracy") else bad
            fell = get("evidence", "test_accuracy") == "established" and get("mean", "test_accuracy") < 0
            if metric == "accuracy_gap" and text == good and fell and label == "technique_set":
                text += ", by underfitting (test accuracy fell)"
            if get("evidence", metric) == "suggestive":
                needed = get("seeds_needed", metric)
                text = f"suggestive: {text}" + (
                    f" (~{int(needed)} seeds to establish)" if math.isfinite(needed) else ""
                )
            return text

        rows.append(
            {
                "condition": cond(row), label.replace("_", " "): row[label], "n": int(get("n", "accuracy_gap")),
                "Δ accuracy gap": pp(get("mean", "accuracy_gap"), get("low", "accuracy_gap"), get("high", "accuracy_gap")),
                "p (Holm)": p_text(get("p_holm", "accuracy_gap")),
                "Δ loss gap": plus_minus(get("mean", "loss_gap"), get("low", "loss_gap"), get("high", "loss_gap"), 1, 3),
                "Δ test accuracy": pp(get("mean", "test_accuracy"), get("low", "test_accuracy"), get("high", "test_accuracy")),
                "p (Holm) ": p_text(get("p_holm", "test_accuracy")),
                "gap verdict": verdict("accuracy_gap"),
                "accuracy verdict": verdict("test_accuracy"),
            } | ({"triggers": notes.get(index, "")} if notes else {})
        )  # fmt: skip
    return md_table(pd.DataFrame(rows))

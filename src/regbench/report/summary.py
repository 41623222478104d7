"""The opening of a report: the significance rule, summary sentences generated from the numbers,
each technique at a glance; and the small formatting helpers every part of the markdown uses."""

from __future__ import annotations

import math

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis.collect import Analysis
from regbench.grid.labels import condition_label
from regbench.report.figures import reference


def pp(mean: float, low: float, high: float) -> str:
    """'-3.1 pp [-5.0, -1.2]' (percentage points, 95% CI); the CI is omitted when undefined."""
    if not math.isfinite(mean):
        return "n/a"
    text = f"{100 * mean:+.1f} pp"
    return text + (f" [{100 * low:+.1f}, {100 * high:+.1f}]" if math.isfinite(low) else " [n=1: no CI]")


def plus_minus(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 1) -> str:
    if not math.isfinite(mean):
        return "n/a"
    half = f" ± {scale * (high - mean):.{digits}f}" if math.isfinite(high) else ""
    return f"{scale * mean:.{digits}f}{half}"


def p_text(p: float) -> str:
    return "n/a" if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def cond(row) -> str:
    """The condition of a table row (a dict or Series with the aggregate.CONDITION columns), for display."""
    return condition_label(*(row[c] for c in agg.CONDITION))


def md_table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if len(frame) else "_none_"


def regime_sentence(t: Analysis) -> str:
    """How many conditions can answer the gap question, and which cannot, and why."""
    if t.regime.empty:
        return ""
    bad = t.regime[~t.regime["testable"]]
    text = (
        f"{len(t.regime) - len(bad)} of {len(t.regime)} conditions are testable: their baseline fits its training set "
        "(clean train accuracy at or above the grid's threshold), so there is overfitting for a technique to reduce"
    )
    if len(bad):
        listed = "; ".join(f"{cond(r)}: {r['reason']}" for _, r in bad.iterrows())
        text += f". Not testable, so no verdict is given there: {listed}"
    return text + " (see *Is there overfitting to reduce?*)."


RULE = (
    "**Significance rule** (every table, figure and claim here): an effect is *established* when its 95% CI "
    "excludes 0 and its Holm-corrected p < 0.05 within its family (see Method); *suggestive* when the CI excludes "
    "0 but the corrected p does not (with the seeds that would establish it at the observed spread); otherwise it "
    "is not distinguishable from 0."
)


def strongest(rows: pd.DataFrame, kind: str, lowest: bool) -> pd.Series | None:
    """The row of `kind` evidence with the lowest (or highest) mean, or None."""
    part = rows[rows["evidence"] == kind]
    if part.empty:
        return None
    return part.sort_values(["mean", "technique_set"], ascending=[lowest, True]).iloc[0]


def seeds_text(r: pd.Series) -> str:
    """'; about 9 seeds would establish it' for a suggestive effect, from its observed spread."""
    n = r.get("seeds_needed", math.nan)
    return (
        f"; about {int(n)} seeds would establish an effect this size at the observed spread" if math.isfinite(n) else ""
    )


def finding(rows: pd.DataFrame, what: str, lowest: bool, figure_ref: str) -> str:
    """One sentence on the strongest established effect of `rows`, else the strongest suggestive one."""
    est, sug = (rows[(rows["evidence"] == k) & ((rows["mean"] < 0) == lowest)] for k in ("established", "suggestive"))
    if len(est):
        r = strongest(est, "established", lowest)
        return (
            f"{len(est)} of {len(rows)} testable comparisons {what}, established; the largest: **{r['technique_set']}** on "
            f"{cond(r)}, {pp(r['mean'], r['low'], r['high'])} (n={r['n']} seeds, Holm p={p_text(r['p_holm'])}; {figure_ref})."
        )
    if len(sug):
        r = strongest(sug, "suggestive", lowest)
        return (
            f"No comparison {what} established; {len(sug)} suggestive, the largest **{r['technique_set']}** on {cond(r)}: "
            f"{pp(r['mean'], r['low'], r['high'])} (n={r['n']} seeds, Holm p={p_text(r['p_holm'])} across {len(rows)}"
            f"{seeds_text(r)}; {figure_ref})."
        )
    return f"No comparison {what} distinguishably ({len(rows)} testable comparisons; {figure_ref})."


def summary_sentences(t: Analysis) -> list[str]:
    """The rule, then sentences generated from the numbers, each pointing at its figure; effects in
    conditions that cannot answer the question (evidence.judge) are left out."""
    if t.effects.empty:
        return [
            "No effects against a baseline could be computed yet: the grid needs baseline cells and at least one technique set with stored results."
        ]
    out = [RULE] + ([regime_sentence(t)] if len(t.regime) else [])
    testable = t.effects[t.effects["testable"]]
    gap = testable[testable["metric"] == "accuracy_gap"]
    acc = testable[testable["metric"] == "test_accuracy"]
    if gap.empty:
        return out + ["No comparison can be judged: no testable condition has an effect to show."]
    heatmap, scatter = reference("heatmap"), reference("scatter")
    out.append(finding(gap, "shrank the accuracy gap", True, heatmap))
    out.append(finding(acc, "raised test accuracy", False, heatmap))
    out.append(finding(acc, "lowered test accuracy", True, f"regularization is not free; {heatmap}"))
    same = int((gap["evidence"] == "none").sum())
    out.append(
        f"{same} of {len(gap)} testable comparisons were not distinguishable from baseline on the accuracy gap (95% CI includes zero); with few seeds, absence of evidence is not evidence of absence ({scatter} shows every cell)."
    )
    return out


def overview_section(t: Analysis) -> str:
    """One row per technique over every testable condition: should I use it here?"""
    table = t.overview
    if table.empty:
        return ""
    rows = [
        {"technique": r.technique_set, "testable conditions": r.conditions,
         "shrank the gap: established / suggestive": f"{r.gap_established} / {r.gap_suggestive}",
         "widened it": r.gap_worse, "median Δ gap (pp)": f"{100 * r.gap_median:+.1f}",
         "median Δ test accuracy (pp)": f"{100 * r.accuracy_median:+.1f}",
         "test accuracy up / down (established)": f"{r.accuracy_established_up} / {r.accuracy_established_down}",
         "training time vs baseline": f"{r.time_ratio:.2f}x" if math.isfinite(r.time_ratio) else "n/a"}
        for r in table.itertuples()
    ]  # fmt: skip
    return (
        "Every technique alone, over the conditions that can answer the question "
        "(their baseline overfits), under the significance rule above; training time is the median over conditions of "
        "its mean wall time over the baseline's (early stopping ends runs sooner).\n\n"
        + md_table(pd.DataFrame(rows))
        + "\n"
    )

"""The opening of a report: the significance rule, summary sentences generated from the numbers,
and the answer per technique: each set's effect pooled over the grid's conditions."""

from __future__ import annotations

import math

import pandas as pd

from regbench.analysis.collect import Analysis
from regbench.analysis.labels import legend, short_label
from regbench.report.figures import reference
from regbench.report.text import cond, gap_parts, interval, md_table, p_text, pp, spread_text, verdict_text

RULE = (
    "**Significance rule** (every table and claim here): an effect is *established* when its 95% CI excludes 0 "
    "and its Holm-corrected p < 0.05 within its family, *suggestive* when only the CI excludes 0; otherwise it is "
    "not distinguishable from 0. A family is fixed by the question (see Method): the pooled effects of the "
    "technique sets, one family; within each condition, the sets against the baseline; the claims. Verdicts are on "
    "test accuracy, the primary endpoint; the gap is shown with its train and test parts."
)

# The precision a grid aims at (README: Shipped grids): an average effect over conditions to within this,
# and per-condition effects mostly within PER_CONDITION.
POOLED_TARGET, PER_CONDITION = 0.015, 0.03


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


def primary(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a judged frame in a family: test accuracy, testable, not a control or a repeat."""
    return frame[frame["family"] != ""] if len(frame) and "family" in frame else frame.iloc[:0]


NAMED = 3  # sets named in a sentence; the table below holds the rest


def readable(label: str) -> str:
    """A set's label for a sentence: as it is, or in short names when long (recipes of many
    techniques; the legend is under the table that follows)."""
    return label if len(label) <= 30 else short_label(label)


def named(rows: pd.DataFrame) -> str:
    """'**augmentation** +14.6 pp [+13.1, +16.1], **dropout** +1.0 pp [...]': the largest NAMED
    effects first (long labels in short names), and how many more."""
    rows = rows.reindex(rows["mean"].abs().sort_values(ascending=False).index)
    text = ", ".join(
        f"**{readable(r['technique_set'])}** {pp(r['mean'], r['low'], r['high'])}"
        for _, r in rows.head(NAMED).iterrows()
    )
    return text + (f" and {len(rows) - NAMED} more" if len(rows) > NAMED else "")


def pooled_sentence(t: Analysis) -> str:
    """What the pooled family says: which sets raise or lower test accuracy over the conditions."""
    rows = primary(t.pooled)
    if rows.empty:
        return ""
    conditions = int(rows["conditions"].max())
    est, sug = rows[rows["evidence"] == "established"], rows[rows["evidence"] == "suggestive"]
    up, down = est[est["mean"] > 0], est[est["mean"] < 0]
    sizes = t.family_sizes["pooled"]  # one pooled family per section
    family = (
        f"one family of {len(rows)}"
        if len(sizes) < 2
        else f"{len(sizes)} families, one per section, of {sizes.min()}-{sizes.max()}"
    )
    parts = [f"Averaged over the testable conditions (up to {conditions}; each set's effect pooled, {family}): "]
    parts.append(
        f"{len(up)} {'raises' if len(up) == 1 else 'raise'} test accuracy, established ({named(up)})"
        if len(up)
        else "none raises test accuracy established"
    )
    parts.append(
        f"; {len(down)} {'lowers' if len(down) == 1 else 'lower'} it, established ({named(down)})"
        if len(down)
        else "; none lowers it established"
    )
    parts.append(f"; {len(sug)} suggestive; {len(rows) - len(est) - len(sug)} not distinguishable from 0")
    return "".join(parts) + " (*Answers per technique*)."


def condition_sentence(t: Analysis) -> str:
    """How many single-condition comparisons are established, under their condition's family."""
    rows = primary(t.effects)
    if rows.empty:
        return ""
    est = rows[rows["evidence"] == "established"]
    families = rows["family"].nunique()
    seeds = (
        f"n={int(rows['n'].min())} seeds"
        if rows["n"].min() == rows["n"].max()
        else f"n={int(rows['n'].min())}-{int(rows['n'].max())} seeds"
    )
    return (
        f"Within single conditions ({families} families of techniques against the baseline, {seeds} each): {len(est)} "
        f"of {len(rows)} effects on test accuracy are established, {int((rows['evidence'] == 'suggestive').sum())} "
        f"suggestive ({reference('heatmap')}; the effects table gives each one's train and test part of the gap)."
    )


def precision_sentence(t: Analysis) -> str:
    """How precise the answers are against the targets, and what the widest are."""
    pooled, single = primary(t.pooled), primary(t.effects)
    if pooled.empty or single.empty:
        return ""
    half = (pooled["high"] - pooled["low"]) / 2
    wide = single[(single["high"] - single["low"]) / 2 > PER_CONDITION]
    widest = pooled.loc[half.idxmax()]
    missed = pooled[half > POOLED_TARGET]
    text = (
        f"Precision: pooled effects are known to within ±{100 * half.median():.1f} pp (median 95% half-width; widest "
        f"**{readable(widest['technique_set'])}** ±{100 * half.max():.1f} pp); {len(wide)} of {len(single)} "
        f"per-condition effects are wider than ±{100 * PER_CONDITION:.0f} pp"
    )
    if len(wide):
        # A half-width shrinks as 1/sqrt(seeds): (half-width / target)^2 times the seeds reach the target.
        needed = ((wide["high"] - wide["low"]) / 2 / PER_CONDITION) ** 2
        text += f" (about {times(needed)} their seeds would bring them within it)"
    if len(missed):
        labels = [readable(n) for n in missed["technique_set"]]
        shown = ", ".join(labels[:NAMED]) + (f" and {len(labels) - NAMED} more" if len(labels) > NAMED else "")
        text += (
            f". {len(missed)} pooled effects miss ±{100 * POOLED_TARGET:.1f} pp ({shown}); about "
            f"{times((half[missed.index] / POOLED_TARGET) ** 2)} the seeds or conditions would reach it"
        )
    return text + "."


def times(factors: pd.Series) -> str:
    """'2x' or '2-9x': the range of whole multiples, rounded up."""
    low, high = math.ceil(float(factors.min())), math.ceil(float(factors.max()))
    return f"{low}x" if low == high else f"{low}-{high}x"


def summary_sentences(t: Analysis) -> list[str]:
    """The rule, then sentences generated from the numbers, each pointing at where it comes from."""
    if t.effects.empty:
        return [
            "No effects against a baseline could be computed yet: the grid needs baseline cells and at least one technique set with stored results."
        ]
    out = [RULE] + ([regime_sentence(t)] if len(t.regime) else [])
    out += [s for s in (pooled_sentence(t), condition_sentence(t), precision_sentence(t)) if s]
    out.append(
        "With few seeds, absence of evidence is not evidence of absence: a set *not distinguishable from 0* may "
        f"still matter; {reference('scatter')} shows every cell."
    )
    return out


def answers_section(t: Analysis) -> str:
    """One row per technique set: its effect on test accuracy averaged over the testable conditions
    (equal weights), the simultaneous interval at the family's size, the verdict, how the gap moved
    and of what, how the effect varies across conditions, and the cost in training time."""
    rows = primary(t.pooled)
    if rows.empty:
        return ""
    others = t.pooled.set_index(["section", "metric", "technique_set"])
    sections = rows["section"].nunique() > 1 or rows["section"].iloc[0] != ""
    table = []
    for _, r in rows.sort_values(["section", "mean"], ascending=[True, False]).iterrows():
        name, where = r["technique_set"], r["section"]
        gap = others.loc[(where, "accuracy_gap", name)] if (where, "accuracy_gap", name) in others.index else None
        train = others.loc[(where, "train_accuracy", name)] if (where, "train_accuracy", name) in others.index else None
        table.append(({"section": where} if sections else {}) | {
            "technique set": short_label(name), "conditions (+/−)": f"{int(r['conditions'])} ({int(r['positive'])}/{int(r['negative'])})",
            "Δ test accuracy, average [95% CI]": pp(r["mean"], r["low"], r["high"]),
            "simultaneous CI (family size)": f"{interval(r['sim_low'], r['sim_high'])} ({int(r['family_size'])})",
            "p (Holm)": p_text(r["p_holm"]), "verdict": verdict_text(r),
            "Δ gap: train, test part": gap_parts(gap, train, r), "across conditions": spread_text(r),
            "training time": f"{r['time_ratio']:.2f}x" if math.isfinite(r["time_ratio"]) else "n/a",
        })  # fmt: skip
    labels = rows["technique_set"]
    shown = f"\n\nSet labels: {legend(labels)}.\n" if any(short_label(n) != n for n in labels) else "\n"
    return (
        "The answer to *does this technique help?*: each set's paired effect on test accuracy in every testable condition "
        "where it is not a control or a repeat of another set, averaged with equal weight per condition (95% t interval, "
        "Welch–Satterthwaite), judged in one family across the sets (Holm); the simultaneous column is the Bonferroni "
        "interval at that family's size. *Across conditions*: the share of the spread that is real (I², DerSimonian–Laird) "
        "and, from 4 conditions, where the effect would fall in a new condition (95% prediction interval). Training time: "
        "median over conditions of the set's mean over the baseline's.\n\n" + md_table(pd.DataFrame(table)) + shown
    )

"""The report's tables in markdown: the claims, results per set, the regime, the tuning of each
arm, and effects with their verdicts under the significance rule."""

from __future__ import annotations

import math

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis.collect import Analysis
from regbench.analysis.labels import condition_label, legend, short_label
from regbench.grid.spec import GridSpec
from regbench.report.text import cond, gap_parts, md_table, p_text, plus_minus, pp, row_verdict


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
                "technique set": group["technique_set"].map(short_label),
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
    labels = t.summary["technique_set"].unique()
    return "\n".join(parts) + (f"\nSet labels: {legend(labels)}.\n" if legend(labels) else "")


def claims_section(t: Analysis, spec: GridSpec) -> str:
    """The claims table: one row per claim, section and condition, with its verdict."""
    table = t.claims
    labels = [label for c in spec.claims for label in (c.set, c.against)]
    return (
        "Each claim of the grid's sources, tested where the grid measures it: Δ is the paired difference "
        "across seeds with its 95% CI; *supported* = the CI lies on the claimed side of zero (or a level lies in "
        "the claimed range), *not supported* = the CI includes zero, *contradicted* = the CI lies on the other "
        "side, *suggestive* = the CI alone says so but Holm's correction across the claim rows does not (the "
        "significance rule), *not testable* = the condition's baseline does not overfit (or a compared technique's "
        f"trigger never fired), so the claim cannot be judged there. Rows: {t.claim_tally}.\n\n"
        + md_table(table)
        + f"\n\nSet labels: {legend(labels)}.\n"
    )


def regime_section(t: Analysis) -> str:
    """Per condition: the baseline's clean train and test accuracy, its gap, and whether the
    condition can answer the gap question."""
    rows = [
        {"condition": cond(r), "baseline n": int(r["n"]),
         "train accuracy (%)": f"{100 * r['train_accuracy']:.1f}" if r["n"] else "-",
         "test accuracy (%)": f"{100 * r['test_accuracy']:.1f}" if r["n"] else "-",
         "accuracy gap (pp)": pp(r["gap_mean"], r["gap_low"], r["gap_high"]) if r["n"] else "-",
         "rule": f"train ≥ {100 * r['threshold']:g}%" if r.get("rule", "fits") == "fits" else "gap > 0, val loss rises",
         "testable": "yes" if r["testable"] else f"no: {r['reason']}"}
        for _, r in t.regime.iterrows()
    ]  # fmt: skip
    return (
        "A regularizer can only shrink a gap that exists: a condition is testable when its baseline (at its tuned "
        "candidate) fits its training set, i.e. its mean clean train accuracy reaches the grid's threshold "
        '(`min_train_accuracy`), or, under the full-size rule (`regime = "gap"`: a small model need not fit '
        "60,000 examples), when its accuracy gap's 95% CI lies above zero and its validation loss turned upward. "
        "Effects and claims in the other conditions read *not testable*.\n\n" + md_table(pd.DataFrame(rows)) + "\n"
    )


def tuning_section(t: Analysis) -> str:
    """Where a set ran at several candidates: what each seed was judged at, how it was chosen, the
    choices at an edge of the candidates, and the optimism same-seed selection would have added."""
    tuning = t.tuning
    table = pd.DataFrame(
        {
            "condition": [cond(r) for _, r in tuning.iterrows()],
            "technique set": tuning["technique_set"],
            "candidates": tuning["candidates"],
            "chosen": tuning["chosen"],
            "how": tuning["how"],
            "at an edge": [f"{e}: the optimum may lie beyond" if e else "" for e in tuning["edge"]],
            "same-seed choice differs": [f"{c} seeds" if c else "" for c in tuning["changed"]],
            "optimism it would add (pp)": [f"{100 * v:+.2f}" if math.isfinite(v) else "-" for v in tuning["optimism"]],
            "validation accuracy per candidate (mean over the seeds that chose)": tuning["tried"],
        }
    )
    changed, total = (
        int(t.choice["same_seed"].ne(t.choice["candidate"]).where(t.choice["same_seed"] != "").sum()),
        len(t.choice),
    )
    optimism = t.choice["optimism"].dropna()
    edges = int((t.tuning["edge"] != "").sum())
    if len(optimism):
        removed = (
            f"Choosing on every seed, the judged one included, would have changed {changed} of {total} choices and "
            f"added {100 * optimism.mean():+.2f} pp of test accuracy on average (up to {100 * optimism.max():+.2f} pp): "
            "the optimism cross-fitting removes."
        )
    else:  # every choice made by tuning seeds: no judged seed ran another candidate to compare with
        removed = "The tuning seeds made every choice here, so no judged seed could have chosen its own."
    return (
        "Each seed is judged at the candidate (learning rate, and tuned dose) with the best mean validation accuracy "
        "over the *other* seeds (cross-fitting), or over the dedicated tuning seeds; never on test accuracy, never on "
        f"the seed it is judged on. {removed} {edges} of {len(tuning)} sets chose at an "
        "edge of their candidates.\n\n" + md_table(table) + "\n"
    )


# Verdict words on test accuracy per kind of row: a set against the baseline, a factorial main
# effect, an interaction (what the pair does beyond each alone), a leave-one-out contribution.
def effects_table(frame: pd.DataFrame, label: str, t: Analysis | None = None) -> str:
    """One row per condition and set (or term, or left-out technique): the effect on test accuracy
    with its verdict in its family, and the gap with its train and test parts. Notes: whether a
    trigger fired (t.trigger_notes) and choices at an edge of the candidates (t.tuning)."""
    if frame.empty:
        return "_none_"
    key = [*agg.CONDITION, label]
    by = {metric: part.set_index(key) for metric, part in frame.groupby("metric")}
    empty = frame.iloc[:0].set_index(key)
    gaps, trains, losses = (by.get(m, empty) for m in ("accuracy_gap", "train_accuracy", "loss_gap"))
    edges = {} if t is None or t.tuning.empty or label != "technique_set" else {
        tuple(r[c] for c in key): r["edge"] for _, r in t.tuning.iterrows() if r["edge"]
    }  # fmt: skip
    rows = []
    for index, r in by.get("test_accuracy", empty).iterrows():
        row = dict(zip(key, index, strict=True))
        kind = "interaction" if label == "term" and " x " in row[label] else label
        notes = [t.trigger_notes.get(index, "")] if t is not None and label == "technique_set" else []
        notes += [f"edge: {edges[index]}"] if index in edges else []
        gap, train = (
            (gaps.loc[index] if index in gaps.index else None),
            (trains.loc[index] if index in trains.index else None),
        )
        loss = losses.loc[index] if index in losses.index else None
        size = f" ({int(r['family_size'])})" if math.isfinite(r.get("family_size", math.nan)) else ""
        rows.append({
            "condition": cond(row), label.replace("_", " "): short_label(row[label]), "n": int(r["n"]),
            "Δ test accuracy [95% CI]": pp(r["mean"], r["low"], r["high"]),
            "p (Holm, family)": p_text(r.get("p_holm", math.nan)) + size, "verdict": row_verdict(r, kind),
            "Δ gap: train, test part": gap_parts(gap, train, r),
            "Δ loss gap": plus_minus(loss["mean"], loss["low"], loss["high"], 1, 3) if loss is not None else "n/a",
        } | ({"notes": "; ".join(n for n in notes if n)} if t is not None else {}))  # fmt: skip
    labels = frame[label].unique()
    shown = f"\n\nSet labels: {legend(labels)}." if label == "technique_set" and legend(labels) else ""
    return md_table(pd.DataFrame(rows)) + shown

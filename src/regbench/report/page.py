"""A report's markdown: every section after the summary, the method, and the page that holds them
(contents, folded sections). Rendering only: everything shown comes computed in analysis.Analysis;
nothing here reads the disk or computes a statistic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis.collect import Analysis
from regbench.analysis.labels import dataset_label
from regbench.grid.spec import GridSpec
from regbench.report.figures import Links, figures_in
from regbench.report.summary import answers_section, summary_sentences
from regbench.report.tables import claims_section, effects_table, regime_section, results_section, tuning_section
from regbench.report.text import anchor, md_table
from regbench.train.datasets import get_dataset


def grid_section(spec: GridSpec, t: Analysis) -> str:
    cells = t.cells
    n_ok = int((cells["status"] == "ok").sum()) if len(cells) else 0
    n_failed = len(cells) - n_ok
    where = (
        f"{len(spec.sections)} sections ({', '.join(s.section for s in spec.sections)})"
        if spec.sections
        else f"design: {design_text(spec.design)}; seeds: {', '.join(map(str, spec.seeds))}"
    )
    lines = [
        f"- Grid file: `{Path(spec.path).name}`; {where}.",
        f"- Cells: {len(cells) + len(t.missing)} in the grid; {n_ok} ok, {n_failed} failed, {len(t.missing)} missing."
        + (f" ({t.ignored} stored results of cells no longer in this grid were ignored.)" if t.ignored else ""),
    ]
    if len(cells):
        lines.append(
            f"- Training time: {cells['wall_time_s'].sum() / 60:.1f} min summed over cells ({cells['wall_time_s'].median():.1f} s median per cell)."
        )
        lines.append(f"- Devices: {counted(cells['device'])}; numerics: {counted(cells['numerics'])}.")
        lines.append(
            f"- regbench git revisions: {', '.join(sorted(cells['git_revision'].dropna().unique())) or 'unknown'}."
        )
        lines.append(f"- Environment: {t.environment}.")
        lines += transfer_lines(cells)
    if not spec.sections:
        return "\n".join(lines) + "\n\n" + setup_tables(spec)
    parts = ["\n".join(lines) + "\n"]
    missing = missing_per_section(t)
    for part in spec.sections:
        mine = cells[cells["section"] == part.section] if len(cells) else cells
        ok_here = int((mine["status"] == "ok").sum()) if len(mine) else 0
        parts.append(
            f"### Section {part.section} ({part.setting})\n\n"
            + (f"{part.description}\n\n" if part.description else "")
            + f"- Design: {design_text(part.design)}; seeds: {', '.join(map(str, part.seeds))}.\n"
            + f"- Cells: {ok_here} ok, {len(mine) - ok_here} failed, {missing.get(part.section, 0)} missing.\n\n"
            + setup_tables(part)
        )
    return "\n".join(parts)


def missing_per_section(t: Analysis) -> dict[str, int]:
    """{section: cells without a stored result}."""
    return dict(Counter(cell.section for cell in t.missing))


def design_text(d) -> str:
    """'add_one(dropout, l2); sweeps dropout.rate [0.1, 0.5]': the parts of a design."""
    return "; ".join(
        part for part in (
            "baseline" if d.baseline else "", f"add_one({', '.join(d.add_one)})" if d.add_one else "",
            f"leave_one_out({', '.join(d.leave_one_out)})" if d.leave_one_out else "", f"factorial({', '.join(d.factorial)})" if d.factorial else "",
            f"sets {[list(s) for s in d.sets]}" if d.sets else "",
            *(f"sweep {w.technique}.{w.param} {list(w.values)}" + (f" with {'+'.join(w.with_)}" if w.with_ else "") for w in d.sweeps),
        ) if part
    )  # fmt: skip


def budget_text(budget) -> str:
    """'25 epochs' or '2,000 steps, evaluated every 50'."""
    if budget.steps is None:
        return f"{budget.epochs} epochs"
    return f"{budget.steps:,} steps, evaluated every {budget.eval_every:,}"


def setup_tables(spec: GridSpec) -> str:
    """The datasets with their budgets, and the technique parameters, of a grid or section."""
    datasets = pd.DataFrame(
        [
            {"dataset": d.name, "train sizes": ", ".join(map(str, d.train_sizes)), "models": ", ".join(d.models), "val size": d.val_size,
             "test size": f"{get_dataset(d.name).test_size:,}" if get_dataset(d.name).test_size else "-",
             "training subset": "drawn per seed" if d.split_seed == "seed" else f"fixed (split seed {d.split_seed})",
             "budget": budget_text(d.budget), "batch": d.budget.batch_size, "optimizer": d.budget.optimizer,
             "learning rate": ", ".join(f"{r:g}" for r in d.budget.rates)}
            | ({"imbalance (max/min)": d.imbalance if d.imbalance is not None else "-"} if any(e.imbalance for e in spec.datasets) else {})
            for d in spec.datasets
        ]
    )  # fmt: skip
    techniques = pd.DataFrame(
        [
            {"technique": n, "parameters": ", ".join(
                f"{k}={v}" + (patience_share(v, spec) if k == "patience" else "") for k, v in sorted(t_.params().items())
            )}
            for n, t_ in spec.techniques
        ]
    )  # fmt: skip
    return md_table(datasets) + "\n\nTechnique parameters:\n\n" + md_table(techniques) + "\n"


def patience_share(patience: int, spec: GridSpec) -> str:
    """' (4 evaluations: 20% of the budget)': a patience as the share of each budget it waits,
    so that where a run stopped reads as the grid's choice, not an accident of eval_every."""
    shares = {patience / (d.budget.steps // d.budget.eval_every if d.budget.steps else d.budget.epochs)
              for d in spec.datasets}  # fmt: skip
    if not shares:
        return ""
    low, high = f"{min(shares):.0%}", f"{max(shares):.0%}"
    return f" ({patience} evaluations: {low if low == high else f'{low} to {high}'} of the budget)"


def counted(values: pd.Series) -> str:
    """'GPU 0 (NVIDIA H100) 450 cells, GPU 1 (NVIDIA H100) 450 cells': each value and its count."""
    counts = values.fillna("unknown").value_counts().sort_index()
    return ", ".join(f"{value} {n} cell{'s' if n > 1 else ''}" for value, n in counts.items())


def transfer_lines(cells: pd.DataFrame) -> list[str]:
    """One line per transfer source and backbone the cells used, with the backbone's accuracy on
    its own source test set (a backbone per architecture width)."""
    if "transfer_source" not in cells or cells["transfer_source"].isna().all():
        return []
    lines = []
    used = cells.dropna(subset=["transfer_source"])
    for (source, section, dataset, imbalance, model, backbone), group in used.groupby(
        ["transfer_source", *agg.SETTING, "transfer_backbone"], sort=True, dropna=False
    ):
        line = f"- Transfer to {dataset_label(section, dataset, imbalance)} ({model}) from **{source}**: {len(group)} cells"
        if isinstance(backbone, str):
            accuracy = group["source_test_accuracy"].dropna()
            line += f"; backbone `{backbone}` (cached in `pretrained/`), source test accuracy {accuracy.iloc[0]:.3f}"
        lines.append(line + ".")
    return lines


def failures_section(spec: GridSpec, t: Analysis) -> str:
    failed = t.cells[t.cells["status"] != "ok"] if len(t.cells) else t.cells
    parts = []
    if len(failed):
        parts.append(md_table(failed[["cell_id", "slug", "error"]].rename(columns={"cell_id": "id"})))
    if t.missing and spec.sections:  # whole sections tend to be missing: count them, say why
        missing = missing_per_section(t)
        table = pd.DataFrame(
            [
                {"section": p.section, "setting": p.setting, "missing cells": int(missing[p.section]),
                 "why": t.not_run[p.section]}
                for p in spec.sections
                if p.section in missing
            ]
        )  # fmt: skip
        parts.append(
            f"Missing (`regbench list {spec.name}` lists them; `regbench run` resumes them):\n\n{md_table(table)}"
        )
    elif t.missing:
        shown = pd.DataFrame([(c.cell_id, c.slug) for c in t.missing[:50]], columns=["id", "slug"])
        more = f"\n\n…and {len(t.missing) - 50} more (`regbench list` shows all)." if len(t.missing) > 50 else ""
        parts.append(f"Missing (not run yet; `regbench run` resumes them):\n\n{md_table(shown)}{more}")
    return "\n\n".join(parts) if parts else "None: every cell of the grid ran and is stored with status ok."


METHOD = """\
- **Cell**: one training run, determined by dataset, train size, validation size, split seed, model,
  technique set with every parameter, seed and budget. Train and validation examples come from the
  official training data (stratified: from a fixed split seed, or drawn anew for each seed where the
  grid says `split_seed = "seed"`); test is the official test set.
- **What the confidence intervals cover**: across seeds vary the initial weights, the order of the
  batches, dropout masks and augmentation draws, and, where the training subset is drawn per seed
  (see the grid's tables), which examples were drawn: the CIs then speak for small data sets of that
  size in general, not for one draw. Every technique set of a seed shares its subset (paired).
  Hyperparameters other than the tuned learning rate and doses are fixed, so their choice is not covered.
- **Budget**: epochs (passes over the train set, validation after each) or optimizer steps (the
  same number of updates whatever the train size, an endless reshuffled stream of full batches,
  validation every `eval_every` steps). Patience of early stopping and of the plateau schedule
  counts evaluations. *Test at best val* is the test accuracy of the weights with the best
  validation accuracy seen during training.
- **Tuned arms**: where a set runs at several candidates (the grid's learning rates, times the
  doses of [tune.*]), each seed is judged at the candidate with the best mean *validation* accuracy
  over the other seeds (cross-fitting), or over dedicated tuning seeds ([tuning] seeds, whose own
  cells are never judged); never test accuracy, never the seed being judged. The baseline is
  chosen the same way. A choice at the smallest or largest candidate is flagged: the optimum may lie
  beyond. A set keeps its label whatever dose it was chosen at (the tuning table shows the dose).
- **Regime check**: a technique can only shrink overfitting that exists. A condition is testable
  when its (tuned) baseline's mean clean train accuracy reaches the grid's `min_train_accuracy`;
  elsewhere every effect and claim reads *not testable* with the reason.
- **Triggers**: early stopping counts as triggered when it stopped before the budget ran out, the
  plateau schedule when it reduced the rate at least once, a best checkpoint when the weights it
  restored are not the last evaluation's. A set whose trigger fired in no seed is *not testable*
  (the technique did nothing); partial firing is shown beside the effect.
- **Final metrics** come from a clean evaluation pass (no dropout, batch norm in inference mode) at
  the weights the run ends with (the restored best weights where early stopping restores them).
  Loss is the data cross-entropy, without weight penalties.
- **Accuracy gap** = train accuracy − test accuracy; **loss gap** = test loss − train loss.
- **Mean ± x** is the mean across seeds with the half-width of a 95% Student-t confidence interval;
  n is the number of seeds. With n = 1 there is no interval and no verdict.
- **Effect** of a technique set = its value minus the baseline's value in the same condition
  (dataset, train size, model) and seed, averaged over seeds, with a 95% t interval of the paired
  differences and a two-sided paired t-test. Where every seed gives the same difference there is no
  variance to test: no interval is given and p is the exact sign-flip test's (2/2^n).
- **Primary endpoint**: verdicts are on test accuracy. The accuracy gap is reported as an estimate
  with its parts, Δ gap = Δ train − Δ test: a technique that shrinks the gap by fitting the
  training set less is visibly different from one that generalizes better.
- **Pooled effect** of a set: its per-condition effects averaged with equal weight over the
  testable conditions (SE from the conditions' SEs, Welch–Satterthwaite degrees of freedom); beside
  it the inverse-variance and DerSimonian–Laird random-effects estimates (statsmodels), the share of
  the between-condition spread that is real (I²) and, from 4 conditions, a 95% prediction interval
  for a new condition.
- **Families** (Holm within each, on test accuracy; FAMILIES_LINE): the pooled effects, one family
  across the sets; within each condition, each set against the baseline; within each condition, the
  terms of a factorial or leave-one-out design; the claims (every testable claim row with a p that
  is not already one of these comparisons: such a row takes its p and verdict from the effects
  table). A comparison has one p and one verdict wherever it appears. Outside every family:
  controls ([design] controls), a set whose numbers equal another set's in every seed (reported
  once, under the other's name), conditions that cannot answer the question. Beside the pooled
  verdicts: the Bonferroni (simultaneous) interval at the family's size; elsewhere intervals are 95%
  per comparison, as each table says. A gap claim is vetoed (*the gap shrank by underfitting*) when
  test accuracy fell under the claims family's correction.
- **Seeds to establish** a suggestive effect: a range, from the 95% CI of the spread across seeds.
- **Factorial designs**: main effect of A = mean over sets with A − mean over sets without A;
  interaction of A and B = mean over the other factors of y(A,B) − y(A) − y(B) + y(neither), i.e.
  what the pair does beyond the sum of each alone (negative on the gap = they help more together).
- **Leave-one-out**: contribution of a technique = y(all on) − y(all on without it), per seed.
- **Ranking**: the best mean per condition; sets whose paired difference with the winner (per
  seed) has a 95% interval that includes zero are listed as tied.
"""


def families_line(t: Analysis) -> str:
    """'in this report: pooled 13; 3 condition families of 12-13; claims 16': the families and their sizes."""
    parts = []
    for name, sizes in t.family_sizes.items():
        if len(sizes):
            parts.append(
                f"{name} {sizes.iloc[0]}"
                if len(sizes) == 1
                else f"{len(sizes)} {name} families of {sizes.min()}-{sizes.max()}"
            )
    if len(t.claims):
        claims_size = t.claims["family"].str.extract(r"^claims \((\d+)\)")[0].dropna()
        parts.append(f"claims {claims_size.iloc[0]}" if len(claims_size) else "claims 0")
    return "in this report: " + "; ".join(parts) if parts else "none in this report"


def assemble(spec: GridSpec, head: list[str], sections: list[tuple[str, str, bool]]) -> str:
    """The report: `head`, a table of contents, then each (title, body, fold) section; a folded
    body sits in <details>, so a long report opens short and a reader unfolds what they need."""
    contents = "\n".join(f"- [{title}](#{anchor(title)})" for title, body, _ in sections if body)
    out = [*head, f"## Contents\n\n{contents}\n"]
    for title, body, fold in sections:
        if body:
            body = body.strip("\n")
            if fold:
                body = f"<details><summary>Show: {title.lower()}</summary>\n\n{body}\n\n</details>"
            out.append(f"## {title}\n\n{body}\n")
    return "\n".join(part for part in out if part).rstrip() + "\n"


def verdicts_by_article(t: Analysis) -> str:
    """'- **A**: 1 supported, 2 not supported, ...': one line per article of the claims table."""
    return "\n".join(f"- **{article}**: {tally}" for article, tally in t.article_tallies.items())


def render(spec: GridSpec, t: Analysis, links: Links) -> str:
    head = [f"# regbench report: {spec.name}\n", f"{spec.description}\n" if spec.description else ""]
    if len(t.claims):  # what a reader of a claims grid came for, first
        head.append("**Verdicts by article** (rows of the claims table below):\n\n" + verdicts_by_article(t) + "\n")
    sections = [("Summary", "\n".join(f"- {s}" for s in summary_sentences(t)), False)]
    if len(t.effects):
        sections.append(("Answers per technique", answers_section(t), False))
    if len(t.claims):
        sections.append(("Claims against the evidence", claims_section(t, spec), False))
    if len(t.regime):
        sections.append(("Is there overfitting to reduce?", regime_section(t), False))
    sections.append(("The grid as run", grid_section(spec, t), True))
    if len(t.tuning):
        sections.append(("Tuning: the candidate each seed is judged at", tuning_section(t), True))
    if len(t.summary):
        sections += [
            ("Results per technique set", "Mean ± 95% CI half-width across seeds.\n\n" + results_section(t)
             + "\n" + figures_in("Results per technique set", links), True),
            ("Effects against the baseline", "Paired by seed; Δ in percentage points (pp) with a 95% CI per comparison "
             "(unadjusted); the verdict on test accuracy is Holm-corrected within the condition's family (its size in "
             "brackets); Δ gap = Δ train − Δ test, shown with both parts.\n\n"
             + effects_table(t.effects, "technique_set", t) + "\n\n"
             + figures_in("Effects against the baseline", links), True),
            ("Where overfitting lives", figures_in("Where overfitting lives", links), False),
            ("Learning curves", figures_in("Learning curves", links), True),  # in condition order
            ("Effect against train size", figures_in("Effect against train size", links)
             or "The grid has one train size per dataset and model: no trend to show.", False),
        ]  # fmt: skip
    if len(t.factorial):
        sections.append(("Factorial design: main effects and interactions", effects_table(t.factorial, "term", t) + "\n\n"
                         + figures_in("Factorial design: main effects and interactions", links), True))  # fmt: skip
    if len(t.sweeps):
        sections.append(("Sweeps: effect against the parameter", "Each value of a swept parameter against the baseline, paired by seed.\n\n"
                         + effects_table(t.sweeps.drop(columns="sweep"), "technique_set", t) + "\n\n"
                         + figures_in("Sweeps: effect against the parameter", links), True))  # fmt: skip
    if len(t.leave_one_out):
        sections.append(("Leave one out: each technique's contribution to the all-on recipe",
                         "Δ = all on − all on without the technique.\n\n" + effects_table(t.leave_one_out, "technique", t), True))  # fmt: skip
    if len(t.ranking):
        names = {"best_test_accuracy": "best test accuracy", "tied_test_accuracy": "tied (paired CI includes 0)",
                 "smallest_gap": "smallest accuracy gap", "tied_gap": "tied (paired CI includes 0) "}  # fmt: skip
        shown = t.ranking.drop(columns=agg.SETTING[:3]).rename(columns={"data": "dataset"} | names)
        sections.append(("Ranking", md_table(shown[["dataset", *shown.columns[:-1]]]), True))
    sections.append(("Method", METHOD.replace("FAMILIES_LINE", families_line(t)), True))
    sections.append(("Failed and missing cells", failures_section(spec, t), False))
    return assemble(spec, head, sections)

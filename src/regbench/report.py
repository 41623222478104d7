"""Markdown report of a grid: summary sentences from the numbers, tables, figures, method.

Deterministic: the same results give a byte-identical report and figures (no timestamps), so
reports can be committed and diffed.
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from joblib.externals.loky import get_reusable_executor

from regbench import aggregate as agg
from regbench import claims, evidence, plots
from regbench.grid import expand
from regbench.spec import GridSpec
from regbench.store import Store, atomic_write


@dataclass(frozen=True)
class Tables:
    cells: pd.DataFrame  # every stored cell of the grid (ok and failed, every learning rate)
    arms: pd.DataFrame  # the cells of each technique set at its tuned learning rate: what is compared
    history: pd.DataFrame
    rates: pd.DataFrame  # the learning rate chosen per condition and set (evidence.choose_rates)
    regime: pd.DataFrame  # per condition: did the baseline overfit? (evidence.regime)
    engagement: pd.DataFrame  # per condition, set and trigger: seeds in which it fired
    summary: pd.DataFrame
    effects: pd.DataFrame  # with testable and why_not (evidence.judge)
    factorial: pd.DataFrame
    leave_one_out: pd.DataFrame
    ranking: pd.DataFrame
    sweeps: pd.DataFrame  # effects of the sets of each [[design.sweeps]], keyed by the swept value
    claims: pd.DataFrame  # each [[claims]] row tested: measured effect, n, verdict (claims.evaluate)
    missing: list[tuple[str, str]]  # (cell_id, slug) of grid cells without a stored result
    ignored: int  # stored results that are not cells of this grid
    environment: str  # library versions seen in the results, e.g. "keras 3.15.1, python 3.11.7"


def collect(spec: GridSpec, results_root: Path) -> Tables:
    """Read the stored results of the grid's cells and compute every table the report shows."""
    store = Store(results_root, spec.name)
    expected = {c.cell_id: c for c in expand(spec).cells}
    stored = store.stored_ids()
    cells, history, environment = read_results(store, sorted(stored & expected.keys()))
    rates = evidence.choose_rates(cells) if len(cells) else pd.DataFrame()
    arms = evidence.tuned(cells, rates)
    thresholds = {part.section: part.min_train_accuracy for part in spec.parts()}
    regime = evidence.regime(arms, thresholds) if len(arms) else pd.DataFrame()
    engagement = evidence.engagement(arms) if len(arms) else pd.DataFrame()
    summary = agg.summary(arms) if len(arms) else pd.DataFrame()
    effects = evidence.judge(agg.effects(arms), regime, engagement) if len(arms) else pd.DataFrame()

    def judged(part_of_design: str, analyse: Callable, label: str) -> pd.DataFrame:
        frame = per_section(spec, arms, part_of_design, analyse)
        return evidence.judge(frame, regime, engagement, label) if len(frame) else frame

    return Tables(
        cells=cells,
        arms=arms,
        history=history,
        rates=rates,
        regime=regime,
        engagement=engagement,
        summary=summary,
        effects=effects,
        sweeps=agg.sweep_effects(effects, sweep_points(spec, expected.values())),
        factorial=judged("factorial", agg.factorial_effects, "term"),
        leave_one_out=judged("leave_one_out", agg.leave_one_out, "technique"),
        ranking=agg.ranking(arms) if len(summary) else pd.DataFrame(),
        claims=claims.evaluate(spec, arms, history, regime, engagement) if spec.claims else pd.DataFrame(),
        missing=sorted((i, expected[i].slug) for i in expected.keys() - stored),
        ignored=len(stored - expected.keys()),
        environment=environment,
    )


def per_section(spec: GridSpec, cells: pd.DataFrame, part_of_design: str, analyse: Callable) -> pd.DataFrame:
    """`analyse(cells, techniques)` for the design's `factorial` or `leave_one_out` techniques, per
    section with its own techniques (Holm's correction within each section)."""
    frames = []
    for part in spec.parts():
        mine = cells[cells["section"] == part.section] if part.section and len(cells) else cells
        techniques = getattr(part.design, part_of_design)
        if techniques and len(mine):
            frames.append(analyse(mine, techniques))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def sweep_points(spec: GridSpec, cells) -> dict[str, tuple[str, Any]]:
    """{set label: (sweep name, value)} of every [[design.sweeps]] point, e.g.
    "batchnorm+dropout(rate=0.25)" -> ("dropout.rate with batchnorm", 0.25)."""
    points = {}
    for section, sweep in ((p.section, sweep) for p in spec.parts() for sweep in p.design.sweeps):
        name = f"{sweep.technique}.{sweep.param}" + (f" with {'+'.join(sweep.with_)}" if sweep.with_ else "")
        members = {sweep.technique, *sweep.with_}
        for cell in (c for c in cells if c.section == section):
            params = dict(cell.techniques)
            if set(params) == members and dict(params[sweep.technique])[sweep.param] in sweep.values:
                points[cell.technique_set] = (name, dict(params[sweep.technique])[sweep.param])
    return points


def read_results(store: Store, ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(cells frame, history frame, environment text) of the stored `ids`. The records themselves
    are dropped on return: millions of small objects slow every later garbage collection."""
    records = [store.read(i) for i in ids]
    environment = ", ".join(sorted({f"{k} {v}" for r in records for k, v in r.get("versions", {}).items()}))
    return agg.cells_frame(records), agg.history_frame(records), environment or "unknown"


def write_tables(tables: Tables, results_root: Path, grid: str) -> None:
    """results/<grid>/cells.csv (one row per cell) and history.csv (long form) for users' own analysis."""
    folder = Path(results_root) / grid
    # `arm`: the cell is at its technique set's tuned learning rate (what the analyses compare)
    cells = (
        tables.cells.assign(arm=tables.cells["cell_id"].isin(tables.arms["cell_id"]))
        if len(tables.cells)
        else tables.cells
    )
    atomic_write(folder / "cells.csv", csv_bytes(cells))
    atomic_write(folder / "history.csv", csv_bytes(tables.history))


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV through pyarrow: 10x faster than DataFrame.to_csv on millions of history rows.
    Text fields are quoted; missing values are empty fields; pandas.read_csv reads it back."""
    import pyarrow as pa
    import pyarrow.csv

    sink = pa.BufferOutputStream()
    pyarrow.csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()


# Below this many stored cells a report takes a few seconds, less than starting worker processes
# (each imports matplotlib, seaborn and scipy: ~2.5 s) would save.
PARALLEL_FROM = 500


def build_report(spec: GridSpec, results_root: Path, out_root: Path, jobs: int | None = None) -> Path:
    """Write reports/<grid>.md, its figures in reports/<grid>/, and the tidy CSV tables.

    Figures and tables are written by `jobs` worker processes (default: one per core from
    PARALLEL_FROM stored cells on, else 1 = all in this process). The workers start first, so
    their imports overlap with reading the results."""
    folder = Path(out_root) / spec.name
    if jobs is None:
        jobs = joblib.cpu_count() if len(Store(results_root, spec.name).stored_ids()) >= PARALLEL_FROM else 1
    pool = report_workers(jobs)
    tables = collect(spec, results_root)
    tasks = figure_tasks(tables, folder)
    calls = [(draw, task[1:]) for task in tasks]
    calls.insert(min(2, len(calls)), (write_tables, (tables, results_root, spec.name)))  # among the slowest
    wait = start_all(pool, calls)
    figures = {name: path for name, *_, path in tasks}
    text = render(spec, tables, {name: f"{spec.name}/{path.name}" for name, path in figures.items()})
    wait()
    remove_stale_figures(folder, set(figures.values()))
    path = Path(out_root) / f"{spec.name}.md"
    atomic_write(path, text)
    return path


def report_workers(jobs: int) -> Executor | None:
    """joblib's reusable loky workers, asked to import the plotting stack now (None for jobs=1).
    loky, not multiprocessing: its workers neither fork this process (which may hold TensorFlow's
    threads) nor re-run the caller's __main__."""
    if jobs <= 1:
        return None
    pool = get_reusable_executor(max_workers=jobs)
    for _ in range(jobs):
        pool.submit(importlib.import_module, plots.__name__)
    return pool


def start_all(pool: Executor | None, calls: list[tuple[Callable[..., Any], tuple]]) -> Callable[[], None]:
    """Start fn(*args) of every call in the pool, or run them here when there is none. Returns a
    function that waits for them all and raises the first error."""
    if pool is None:
        for fn, args in calls:
            fn(*args)
        return lambda: None
    futures = [pool.submit(fn, *args) for fn, args in calls]

    def wait() -> None:
        for future in futures:
            future.result()

    return wait


def remove_stale_figures(folder: Path, keep: set[Path]) -> None:
    """Figures of an earlier report of the grid that this one no longer draws."""
    for old in folder.glob("*.png") if folder.is_dir() else []:
        if old not in keep:
            old.unlink()


def draw(make: Callable[..., Any], args: tuple, path: Path) -> Path:
    """Build one figure with `make(*args)` and save it (runs in a worker process)."""
    return plots.save(make(*args), path)


def figure_tasks(t: Tables, folder: Path) -> list[tuple[str, Callable[..., Any], tuple, Path]]:
    """(name, plots function, its arguments, path) of every figure the data allows, the slowest
    first (learning curves, heatmaps), so that parallel workers finish together."""
    tasks: list[tuple[str, Callable[..., Any], tuple, Path]] = []
    if len(t.summary):
        curves = dict(tuple(agg.curves(t.history, t.arms).groupby(agg.CONDITION, sort=True)))
        cells = dict(tuple(agg.ok(t.arms).groupby(agg.CONDITION, sort=True)))
        for (dataset, size, model), curve in curves.items():
            path = folder / f"learning_curves_{dataset.replace('/', '_')}_n{size}_{model}.png"  # 'A-cpu/fashion_mnist'
            name = f"curves_{plots.condition_label(dataset, size, model)}"
            tasks.append((name, plots.learning_curves, (curve, cells[dataset, size, model]), path))
    if len(t.factorial):
        tasks.append(("interactions", plots.interaction_heatmap, (t.factorial,), folder / "interactions.png"))
    if len(t.sweeps):
        tasks.append(("sweeps", plots.effect_vs_parameter, (t.sweeps,), folder / "effect_vs_parameter.png"))
    if len(t.effects):
        tasks.append(("heatmap", plots.effect_heatmap, (t.effects,), folder / "effect_heatmap.png"))
        if t.effects.groupby(["dataset", "model"])["train_size"].nunique().max() > 1:
            tasks.append(("sizes", plots.effect_vs_train_size, (t.effects,), folder / "effect_vs_train_size.png"))
    if len(t.summary):
        tasks.append(("gap", plots.gap_by_set, (t.summary,), folder / "gap_by_set.png"))
        tasks.append(("scatter", plots.train_vs_test, (t.arms,), folder / "train_vs_test.png"))
    return tasks


# -- formatting ------------------------------------------------------------------------------------


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
    return f"{row['dataset']} n={row['train_size']} {row['model']}"


def md_table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if len(frame) else "_none_"


def figure(links: dict[str, str], name: str, caption: str) -> str:
    return f"![{caption}]({links[name]})\n\n*{caption}*\n" if name in links else ""


# -- sections --------------------------------------------------------------------------------------


def regime_sentence(t: Tables) -> str:
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


def summary_sentences(t: Tables) -> list[str]:
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
    out.append(finding(gap, "shrank the accuracy gap", True, "Figure 3"))
    out.append(finding(acc, "raised test accuracy", False, "Figure 3"))
    out.append(finding(acc, "lowered test accuracy", True, "regularization is not free; Figure 3"))
    same = int((gap["evidence"] == "none").sum())
    out.append(
        f"{same} of {len(gap)} testable comparisons were not distinguishable from baseline on the accuracy gap (95% CI includes zero); with few seeds, absence of evidence is not evidence of absence (Figure 4 shows every cell)."
    )
    return out


def grid_section(spec: GridSpec, t: Tables) -> str:
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


def missing_per_section(t: Tables) -> dict[str, int]:
    """{section: cells without a stored result} (a slug starts with its section)."""
    return dict(Counter(slug.split("/")[0] for _, slug in t.missing))


def claims_section(table: pd.DataFrame, spec: GridSpec) -> str:
    """The claims table: one row per claim, section and condition, with its verdict."""
    labels = [label for c in spec.claims for label in (c.set, c.against)]
    return (
        "Each claim of the grid's sources, tested where the grid measures it: Δ is the paired difference "
        "across seeds with its 95% CI; *supported* = the CI lies on the claimed side of zero (or a level lies in "
        "the claimed range), *not supported* = the CI includes zero, *contradicted* = the CI lies on the other "
        "side, *suggestive* = the CI alone says so but Holm's correction across the claim rows does not (the "
        "significance rule), *not testable* = the condition's baseline does not overfit (or a compared technique's "
        f"trigger never fired), so the claim cannot be judged there. Rows: {claims.tally(table)}.\n\n"
        + md_table(table)
        + f"\n\nSet labels: {claims.legend(labels)}.\n"
    )


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
             "training subset": "drawn per seed" if d.split_seed == "seed" else f"fixed (split seed {d.split_seed})",
             "budget": budget_text(d.budget), "batch": d.budget.batch_size, "optimizer": d.budget.optimizer,
             "learning rate": ", ".join(f"{r:g}" for r in d.budget.rates)}
            | ({"imbalance (max/min)": d.imbalance if d.imbalance is not None else "-"} if any(e.imbalance for e in spec.datasets) else {})
            for d in spec.datasets
        ]
    )  # fmt: skip
    techniques = pd.DataFrame(
        [
            {"technique": n, "parameters": ", ".join(f"{k}={v}" for k, v in sorted(t_.params().items()))}
            for n, t_ in spec.techniques
        ]
    )
    return md_table(datasets) + "\n\nTechnique parameters:\n\n" + md_table(techniques) + "\n"


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
    for (source, dataset, model, backbone), group in used.groupby(
        ["transfer_source", "dataset", "model", "transfer_backbone"], sort=True, dropna=False
    ):
        line = f"- Transfer to {dataset} ({model}) from **{source}**: {len(group)} cells"
        if isinstance(backbone, str):
            accuracy = group["source_test_accuracy"].dropna()
            line += f"; backbone `{backbone}` (cached in `pretrained/`), source test accuracy {accuracy.iloc[0]:.3f}"
        lines.append(line + ".")
    return lines


def results_section(t: Tables) -> str:
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
        parts.append(f"### {plots.condition_label(*condition)}\n\n{md_table(table)}\n")
    return "\n".join(parts)


def overview_section(t: Tables) -> str:
    """One row per technique over every testable condition: should I use it here?"""
    table = agg.technique_overview(t.effects, t.arms)
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


def regime_section(t: Tables) -> str:
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
    with a trigger fired, per (dataset, train_size, model, set) (evidence.trigger_notes)."""
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
                "condition": f"{row['dataset']} n={row['train_size']} {row['model']}", label.replace("_", " "): row[label], "n": int(get("n", "accuracy_gap")),
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


def failures_section(spec: GridSpec, t: Tables) -> str:
    failed = t.cells[t.cells["status"] != "ok"] if len(t.cells) else t.cells
    parts = []
    if len(failed):
        parts.append(md_table(failed[["cell_id", "slug", "error"]].rename(columns={"cell_id": "id"})))
    if t.missing and spec.sections:  # whole sections tend to be missing: count them, say why
        missing = missing_per_section(t)
        table = pd.DataFrame(
            [
                {"section": p.section, "setting": p.setting, "missing cells": int(missing[p.section]),
                 "why": "not run yet" if len(t.cells) and (t.cells["section"] == p.section).any() else claims.not_run_reason(spec, p)}
                for p in spec.sections
                if p.section in missing
            ]
        )  # fmt: skip
        parts.append(
            f"Missing (`regbench list {spec.name}` lists them; `regbench run` resumes them):\n\n{md_table(table)}"
        )
    elif t.missing:
        shown = pd.DataFrame(t.missing[:50], columns=["id", "slug"])
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
  Hyperparameters other than the tuned learning rate are fixed, so their choice is not covered.
- **Budget**: epochs (passes over the train set, validation after each) or optimizer steps (the
  same number of updates whatever the train size, an endless reshuffled stream of full batches,
  validation every `eval_every` steps). Patience of early stopping and of the plateau schedule
  counts evaluations. *Test at best val* is the test accuracy of the weights with the best
  validation accuracy seen during training.
- **Tuned arms**: where the grid lists several learning rates, every cell runs at each; per
  condition and technique set the rate with the best mean *validation* accuracy is kept (never
  test accuracy), the baseline chosen the same way, and every table compares these tuned arms.
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
  variance to test: no interval is given and p is the exact sign-flip test's (2/2^n). p-values are
  Holm-corrected within a family: the effects against the baseline, all comparisons of one metric
  in this report; factorial terms, and leave-one-out contributions, those of one metric within one
  section; claims, every testable row of the claims table with a p-value (a level claim tests a
  range and has none). An effect whose
  interval includes zero is reported as *not distinguishable from baseline*. A gap that shrank
  while test accuracy fell distinguishably shrank *by underfitting*: no support for a claim about
  overfitting.
- **Factorial designs**: main effect of A = mean over sets with A − mean over sets without A;
  interaction of A and B = mean over the other factors of y(A,B) − y(A) − y(B) + y(neither), i.e.
  what the pair does beyond the sum of each alone (negative on the gap = they help more together).
- **Leave-one-out**: contribution of a technique = y(all on) − y(all on without it), per seed.
- **Ranking**: the best mean per condition; sets whose paired difference with the winner (per
  seed) has a 95% interval that includes zero are listed as tied.
"""


def anchor(title: str) -> str:
    """The link target GitHub (and most viewers) give a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


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


def verdicts_by_article(table: pd.DataFrame) -> str:
    """'- **A**: 1 supported, 2 not supported, ...': one line per article of a claims table."""
    return "\n".join(f"- **{article}**: {claims.tally(rows)}" for article, rows in table.groupby("article", sort=True))


def render(spec: GridSpec, t: Tables, links: dict[str, str]) -> str:
    head = [f"# regbench report: {spec.name}\n", f"{spec.description}\n" if spec.description else ""]
    if len(t.claims):  # what a reader of a claims grid came for, first
        head.append(
            "**Verdicts by article** (rows of the claims table below):\n\n" + verdicts_by_article(t.claims) + "\n"
        )
    sections = [("Summary", "\n".join(f"- {s}" for s in summary_sentences(t)), False)]
    if len(t.effects):
        sections.append(("Each technique at a glance", overview_section(t), False))
    if len(t.claims):
        sections.append(("Claims against the evidence", claims_section(t.claims, spec), False))
    if len(t.regime):
        sections.append(("Is there overfitting to reduce?", regime_section(t), False))
    sections.append(("The grid as run", grid_section(spec, t), True))
    if len(t.rates) and t.rates["rates"].max() > 1:
        sections.append(("Tuned learning rates", rates_section(t.rates), True))
    if len(t.summary):
        notes = evidence.trigger_notes(t.engagement) if len(t.engagement) else None
        sections += [
            ("Results per technique set", "Mean ± 95% CI half-width across seeds.\n\n" + results_section(t)
             + "\n" + figure(links, "gap", "Figure 1: generalization gap per technique set, 95% CI error bars, baseline in grey."), True),
            ("Effects against the baseline", "Paired by seed; Δ in percentage points (pp) with 95% CI.\n\n"
             + effects_table(t.effects, "technique_set", notes) + "\n\n"
             + figure(links, "heatmap", "Figure 3: change against baseline in accuracy gap and test accuracy; * = established, ~ = suggestive (the significance rule); colours saturate at the 90th percentile of |change|."), True),
            ("Where overfitting lives", figure(links, "scatter", "Figure 4: train vs test accuracy of every cell; the distance below the diagonal is the accuracy gap."), False),
            ("Learning curves", "\n".join(
                figure(links, name, f"Figure 2 ({name[7:]}): cross-entropy per technique set against the baseline (grey), train dashed, validation solid, mean over seeds; a dotted line marks the median early stop.")
                for name in links if name.startswith("curves_")), True),  # in condition order
            ("Effect against train size", figure(links, "sizes", "Figure 5: change in accuracy gap against baseline as the train size grows.")
             or "The grid has one train size per dataset and model: no trend to show.", False),
        ]  # fmt: skip
    if len(t.factorial):
        sections.append(("Factorial design: main effects and interactions", effects_table(t.factorial, "term") + "\n\n"
                         + figure(links, "interactions", "Figure 6: main effects (diagonal) and two-way interactions on the accuracy gap, pp."), True))  # fmt: skip
    if len(t.sweeps):
        sections.append(("Sweeps: effect against the parameter", "Each value of a swept parameter against the baseline, paired by seed.\n\n"
                         + effects_table(t.sweeps.drop(columns="sweep"), "technique_set") + "\n\n"
                         + figure(links, "sweeps", "Figure 7: change against baseline in accuracy gap and test accuracy as the swept parameter grows, 95% CI."), True))  # fmt: skip
    if len(t.leave_one_out):
        sections.append(("Leave one out: each technique's contribution to the all-on recipe",
                         "Δ = all on − all on without the technique.\n\n" + effects_table(t.leave_one_out, "technique"), True))  # fmt: skip
    if len(t.ranking):
        names = {"best_test_accuracy": "best test accuracy", "tied_test_accuracy": "tied (paired CI includes 0)",
                 "smallest_gap": "smallest accuracy gap", "tied_gap": "tied (paired CI includes 0) "}  # fmt: skip
        sections.append(("Ranking", md_table(t.ranking.rename(columns=names)), True))
    sections.append(("Method", METHOD, True))
    sections.append(("Failed and missing cells", failures_section(spec, t), False))
    return assemble(spec, head, sections)

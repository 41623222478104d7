"""The report: sections, figures, tables, determinism, partial grids, and the committed quick report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from regbench.cli import main
from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.records.result import Result
from regbench.records.store import Store
from regbench.report import plots
from regbench.report.write import build_report
from tests.synthetic import write_synthetic

ROOT = Path(__file__).resolve().parents[1]
GRID = """
seeds = [1, 2, 3]
[budget]
epochs = 12
[design]
factorial = ["dropout", "l2"]
leave_one_out = ["dropout", "l2"]
[[datasets]]
name = "digits"
train_sizes = [50, 200]
"""
SECTIONS = ["## Summary", "## Answers per technique", "## Is there overfitting to reduce?", "## The grid as run", "## Results per technique set", "## Effects against the baseline", "## Where overfitting lives",
            "## Learning curves", "## Effect against train size", "## Factorial design", "## Leave one out", "## Ranking", "## Method", "## Failed and missing cells"]  # fmt: skip


def synthetic_grid(write_grid, tmp_path, drop: int = 0):
    spec = load_spec(str(write_grid(GRID, name="synth")))
    cells = list(expand(spec).cells)
    write_synthetic(cells[drop:], Store(tmp_path / "results", "synth"))
    return spec, cells


def test_report_sections_figures_and_tables(write_grid, tmp_path):
    spec, cells = synthetic_grid(write_grid, tmp_path)
    path = build_report(spec, tmp_path / "results", tmp_path / "reports")
    text = path.read_text()
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    figures = sorted(p.name for p in (tmp_path / "reports" / "synth").glob("*.png"))
    assert figures == sorted(["gap_by_set.png", "train_vs_test.png", "effect_heatmap.png", "effect_vs_train_size.png", "interactions.png",
                              "learning_curves_digits_n50_mlp.png", "learning_curves_digits_n200_mlp.png"])  # fmt: skip
    for name in figures:
        assert f"(synth/{name})" in text  # embedded by relative link
    assert "None: every cell of the grid ran" in text and "n=3 seeds" in text
    cells_csv = pd.read_csv(tmp_path / "results" / "synth" / "cells.csv")
    assert len(cells_csv) == len(cells) and list(cells_csv.columns[:8]) == [
        "cell_id",
        "slug",
        "status",
        "error",
        "section",
        "dataset",
        "imbalance",
        "train_size",
    ]
    assert sorted(cells_csv["cell_id"]) == sorted(c.cell_id for c in cells)
    history = pd.read_csv(tmp_path / "results" / "synth" / "history.csv")
    assert list(history.columns) == ["cell_id", "epoch", "step", "split", "metric", "value"]
    assert set(history["cell_id"]) == set(cells_csv["cell_id"]) and history["value"].notna().all()


def test_report_workers_leave_joblib_parallel_working():
    """The report's worker pool is its own: a later joblib.Parallel (the runner's --jobs) with a
    different worker count once found loky's shared executor without joblib's bookkeeping and failed."""
    from joblib import Parallel, delayed

    from regbench.report.write import report_workers

    pool = report_workers(3)
    assert list(pool.map(abs, [-1, -2])) == [1, 2]
    try:
        assert list(Parallel(n_jobs=2, backend="loky")(delayed(abs)(i) for i in [-3, -4])) == [3, 4]
    finally:
        pool.shutdown(wait=True)


def test_report_is_byte_identical_when_rebuilt(write_grid, tmp_path):
    spec, _ = synthetic_grid(write_grid, tmp_path)
    # In this process, then in 2 worker processes (what large grids get): the same bytes.
    first = build_report(spec, tmp_path / "results", tmp_path / "a", jobs=1)
    second = build_report(spec, tmp_path / "results", tmp_path / "b", jobs=2)
    assert first.read_bytes() == second.read_bytes()
    assert len(list((tmp_path / "a" / "synth").glob("*.png"))) == 7
    for png in (tmp_path / "a" / "synth").glob("*.png"):
        assert png.read_bytes() == (tmp_path / "b" / "synth" / png.name).read_bytes()


def test_partial_grid_lists_missing_and_failed(write_grid, tmp_path):
    spec, cells = synthetic_grid(write_grid, tmp_path, drop=2)
    store = Store(tmp_path / "results", "synth")
    store.write(store.read(cells[2].cell_id).but(status="failed", error="RuntimeError: boom", final=None, gap=None))
    text = build_report(spec, tmp_path / "results", tmp_path / "reports").read_text()
    assert f"{len(cells)} in the grid; {len(cells) - 3} ok, 1 failed, 2 missing" in text
    assert "RuntimeError: boom" in text and cells[0].slug in text and cells[1].slug in text


def test_report_command_does_not_import_tensorflow(write_grid, tmp_path):
    synthetic_grid(write_grid, tmp_path)
    code = (
        "import sys; from regbench.cli import main; "
        f"rc = main(['report', {str(tmp_path / 'synth.toml')!r}, '--results', {str(tmp_path / 'results')!r}, '--out', {str(tmp_path / 'r')!r}]); "
        "print(rc, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 False"


def test_report_of_empty_results_says_so(write_grid, tmp_path, capsys):
    grid = write_grid(GRID, name="synth")
    assert main(["report", str(grid), "--results", str(tmp_path / "none"), "--out", str(tmp_path / "r")]) == 0
    text = (tmp_path / "r" / "synth.md").read_text()
    assert "No effects against a baseline could be computed yet" in text and "Missing (not run yet" in text


@pytest.mark.parametrize("grid", ["quick", "fashion"])  # articles: tests/test_claims.py
def test_committed_report_regenerates_identically(tmp_path, grid):
    committed = ROOT / "reports" / "reference" / f"{grid}.md"
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / "reference" / grid, results / grid)
    path = build_report(load_spec(grid), results, tmp_path / "reports")
    assert path.read_text() == committed.read_text()
    assert sorted(p.name for p in (tmp_path / "reports" / grid).glob("*.png")) == sorted(
        p.name for p in (ROOT / "reports" / "reference" / grid).glob("*.png")
    )


def test_a_sweep_gets_its_table_and_effect_against_the_parameter(write_grid, tmp_path):
    from tests.helpers import SWEEP_GRID

    spec = load_spec(str(write_grid(SWEEP_GRID, name="sweep")))
    write_synthetic(list(expand(spec).cells), Store(tmp_path / "results", "sweep"))
    text = build_report(spec, tmp_path / "results", tmp_path / "reports", jobs=1).read_text()
    section = text.split("## Sweeps: effect against the parameter")[1].split("\n## ")[0]
    for label in ("do(rate=0.1)", "do(rate=0.5)", "do(rate=0.8)", "bn+l2(factor=0.01)"):  # short labels, a legend
        assert f"| {label} " in section
    assert (
        "l2(factor=0.001) " not in section and "bn = batchnorm, do = dropout" in section
    )  # add_one's l2: no sweep point
    assert (tmp_path / "reports" / "sweep" / "effect_vs_parameter.png").stat().st_size > 10_000


def test_factorial_and_leave_one_out_rows_have_their_own_wording(write_grid, tmp_path):
    """Main effects, interactions and contributions are not comparisons with the baseline."""
    spec, _ = synthetic_grid(write_grid, tmp_path)
    text = build_report(spec, tmp_path / "results", tmp_path / "reports").read_text()

    def section(title: str) -> str:
        return text[text.index(title) :].split("\n## ")[0]

    factorial, contributions = section("## Factorial design"), section("## Leave one out")
    for part in (factorial, contributions):
        assert "baseline" not in part.split("![")[0].replace("Δ = all on", "")
    assert "test accuracy" in factorial and "| term " in factorial
    assert "not distinguishable from 0" in factorial or "together" in factorial
    assert "not distinguishable from 0" in contributions or "the recipe" in contributions


def test_the_method_names_each_family_and_its_size(write_grid, tmp_path):
    """Families by question: pooled (one), per condition (the sets against the baseline), per
    factorial and leave-one-out design and condition; their sizes come from this grid."""
    spec, _ = synthetic_grid(write_grid, tmp_path)
    method = build_report(spec, tmp_path / "results", tmp_path / "reports").read_text().split("## Method")[1]
    # 3 sets against the baseline in each of 2 conditions; 3 terms (2 main, 1 interaction); 2 contributions
    assert (
        "in this report: pooled 3; 2 condition families of 3-3; 2 factorial families of 3-3; 2 leave-one-out families of 2-2"
        in method
    )
    assert "A comparison has one p and one verdict wherever it appears" in method


def test_a_ci_that_excludes_zero_without_the_correction_is_called_suggestive(write_grid, tmp_path):
    """dropout raises test accuracy by 3, 5 and 7 pp in the three seeds: its 95% CI excludes zero
    (raw p 0.035), but not after Holm's correction within its condition's family of 3."""
    from tests.synthetic import synthetic_record

    text = GRID.replace(
        'factorial = ["dropout", "l2"]\nleave_one_out = ["dropout", "l2"]', 'add_one = ["dropout", "l2", "batchnorm"]'
    )
    spec = load_spec(str(write_grid(text.replace("train_sizes = [50, 200]", "train_sizes = [50]"), name="rule")))
    store = Store(tmp_path / "results", "rule")
    shrink = {1: -0.05, 2: -0.03, 3: -0.07}
    for cell in expand(spec).cells:
        r = synthetic_record(cell)
        gap = 0.2 + (
            shrink[cell.seed]
            if cell.technique_set == "dropout"
            else 0.01 * cell.seed * (cell.technique_set != "baseline")
        )
        r["final"]["train"]["accuracy"], r["final"]["test"]["accuracy"] = 1.0, 1.0 - gap
        r["gap"]["accuracy"] = gap
        store.write(Result.from_json(r))
    report = build_report(spec, tmp_path / "results", tmp_path / "reports").read_text()
    summary = report.split("## Summary")[1].split("\n## ")[0]
    assert "**Significance rule**" in summary and report.count("**Significance rule**") == 1
    assert "n=3 seeds each): 0 of 3 effects on test accuracy are established, 1 suggestive" in summary
    effects = report.split("## Effects against the baseline")[1].split("\n## ")[0]
    row = next(line for line in effects.splitlines() if "| do " in line)
    assert "+5.0 pp [" in row and "suggestive: raises test accuracy (" in row and "seeds to establish)" in row
    assert "-5.0 pp [" in row and ": train 0.0, test +5.0" in row  # the gap shrank by exactly the test part


def test_learning_curves_are_small_multiples_with_the_baseline_in_every_panel(write_grid, tmp_path):
    from regbench.analysis import aggregate as agg
    from regbench.analysis.collect import collect
    from regbench.analysis.inputs import read_inputs

    spec = load_spec(str(write_grid(GRID.replace("[design]", '[design]\nsets = [["early_stopping"]]'), name="curves")))
    write_synthetic(list(expand(spec).cells), Store(tmp_path / "results", "curves"))
    t = collect(read_inputs(spec, tmp_path / "results"))
    condition = ("", "digits", 0.0, 200, "mlp")
    curve = agg.curves(t.history, t.arms).groupby(agg.CONDITION).get_group(condition)
    mine = agg.ok(t.arms).groupby(agg.CONDITION).get_group(condition)
    fig = plots.learning_curves(curve, mine)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    sets = sorted(set(mine["technique_set"]) - {"baseline"})
    from regbench.analysis.labels import short_label

    assert sorted(ax.get_title() for ax in panels) == sorted(plots.wrapped(short_label(s)) for s in sets)  # one a set
    for ax in panels:
        styles = [(line.get_color(), line.get_linestyle()) for line in ax.get_lines() if len(line.get_xdata()) > 1]
        assert (plots.BASELINE_COLOR, "-") in styles and (plots.BASELINE_COLOR, "--") in styles  # baseline in each
        assert (plots.OTHER_COLOR, "-") in styles and (plots.OTHER_COLOR, "--") in styles  # validation, train
    stopped = [ax for ax in panels if "es" in ax.get_title().split("+")]
    assert stopped and all(any(line.get_linestyle() == ":" for line in ax.get_lines()) for ax in stopped)
    fig.canvas.draw()  # the title fits the figure, however few its panels (these four clipped it on both sides)
    title = next(t for t in fig.texts if t.get_text() == fig.get_suptitle()).get_window_extent()
    assert len(panels) < 5 and 0 <= title.x0 and title.x1 <= fig.bbox.width


def test_a_patience_is_stated_as_its_share_of_each_budget(write_grid):
    from regbench.report.page import setup_tables

    grid = write_grid(
        """
        seeds = [1]
        models = ["mlp"]
        [budget]
        steps = 400
        eval_every = 20
        [design]
        add_one = ["early_stopping", "dropout"]
        [techniques.early_stopping]
        patience = 4
        [[datasets]]
        name = "moons"
        train_sizes = [30]
        [[datasets]]
        name = "digits"
        train_sizes = [50]
        steps = 800
        eval_every = 20
        """
    )
    tables = setup_tables(load_spec(str(grid)))
    assert "patience=4 (4 evaluations: 10% to 20% of the budget)" in tables  # 4 of 40 and 4 of 20
    assert "rate=" in tables and "evaluations:" not in tables.split("dropout", 1)[1].split("\n", 1)[0]


def test_effect_against_train_size_gives_a_set_one_colour_and_one_legend_entry_across_panels():
    rows = [
        {"section": section, "dataset": dataset, "imbalance": 0.0, "model": "mlp", "train_size": size,
         "technique_set": technique_set, "metric": "accuracy_gap", "mean": 0.01, "low": 0.0, "high": 0.02}
        for section, dataset, sets in (("A", "moons", ["dropout", "l2"]), ("B", "digits", ["augmentation", "l2"]))
        for technique_set in sets
        for size in (100, 300)
    ]  # fmt: skip
    fig = plots.effect_vs_train_size(pd.DataFrame(rows))
    colour = {}
    for ax in fig.axes:
        for container in ax.containers:
            label, line = container.get_label(), container.lines[0]
            assert colour.setdefault(label, line.get_color()) == line.get_color()  # the same in both panels
    assert len(set(colour.values())) == 3
    (legend,) = fig.legends  # beside the panels, not inside one
    assert [t.get_text() for t in legend.get_texts()] == ["aug", "do", "l2"]
    assert fig.axes[0].get_legend() is None and "aug = augmentation" in legend.get_title().get_text()

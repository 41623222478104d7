"""A grid's report on disk: reports/<grid>.md (markdown.render), its figures in reports/<grid>/
(plots), and the tidy tables results/<grid>/cells.csv and history.csv.

Deterministic: the same results give a byte-identical report and figures (no timestamps), so
reports can be committed and diffed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from joblib.externals.loky import ProcessPoolExecutor

from regbench.analysis import aggregate as agg
from regbench.analysis.collect import Tables, collect
from regbench.disk import atomic_write
from regbench.grid.labels import condition_label, data_label
from regbench.grid.spec import GridSpec
from regbench.report import plots
from regbench.report.page import render
from regbench.store import Store


def write_tables(tables: Tables, results_root: Path, grid: str) -> None:
    """results/<grid>/cells.csv (one row per cell) and history.csv (long form) for users' own analysis."""
    folder = Path(results_root) / grid
    # `arm`: the cell is at its technique set's tuned learning rate (what the analyses compare)
    cells = (
        tables.cells.assign(arm=tables.cells["cell_id"].isin(tables.arms["cell_id"]))
        if len(tables.cells)
        else tables.cells
    )
    # `members` (tuples) stays out of the CSV: `techniques` holds the same names with their parameters
    atomic_write(folder / "cells.csv", csv_bytes(cells.drop(columns="members", errors="ignore")))
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
    try:
        tables = collect(spec, results_root)
        tasks = figure_tasks(tables, folder)
        calls = [(draw, task[1:]) for task in tasks]
        calls.insert(min(2, len(calls)), (write_tables, (tables, results_root, spec.name)))  # among the slowest
        wait = start_all(pool, calls)
        figures = {name: path for name, *_, path in tasks}
        text = render(spec, tables, {name: f"{spec.name}/{path.name}" for name, path in figures.items()})
        wait()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    remove_stale_figures(folder, set(figures.values()))
    path = Path(out_root) / f"{spec.name}.md"
    atomic_write(path, text)
    return path


def report_workers(jobs: int) -> Executor | None:
    """Loky worker processes of this report alone, asked to import the plotting stack now (None for
    jobs=1). loky, not multiprocessing: its workers neither fork this process (which may hold
    TensorFlow's threads) nor re-run the caller's __main__. Not loky's shared reusable executor:
    joblib.Parallel (the runner's --jobs) would later pick that one up without the bookkeeping it
    expects and fail."""
    if jobs <= 1:
        return None
    pool = ProcessPoolExecutor(max_workers=jobs)
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
        for condition, curve in curves.items():
            section, dataset, imbalance, size, model = condition
            where = "_".join(filter(None, [section, data_label(dataset, imbalance)]))  # 'A-cpu_fashion_mnist'
            path = folder / f"learning_curves_{where}_n{size}_{model}.png"
            tasks.append(
                (f"curves_{condition_label(*condition)}", plots.learning_curves, (curve, cells[condition]), path)
            )
    if len(t.factorial):
        tasks.append(("interactions", plots.interaction_heatmap, (t.factorial,), folder / "interactions.png"))
    if len(t.sweeps):
        tasks.append(("sweeps", plots.effect_vs_parameter, (t.sweeps,), folder / "effect_vs_parameter.png"))
    if len(t.effects):
        tasks.append(("heatmap", plots.effect_heatmap, (t.effects,), folder / "effect_heatmap.png"))
        if t.effects.groupby(agg.SETTING)["train_size"].nunique().max() > 1:
            tasks.append(("sizes", plots.effect_vs_train_size, (t.effects,), folder / "effect_vs_train_size.png"))
    if len(t.summary):
        tasks.append(("gap", plots.gap_by_set, (t.summary,), folder / "gap_by_set.png"))
        tasks.append(("scatter", plots.train_vs_test, (t.arms,), folder / "train_vs_test.png"))
    return tasks


def write_if_stale(spec: GridSpec, results_root: Path, out_root: Path, ran: bool) -> tuple[Path, bool]:
    """After a run: (the report's path, whether it was written now). It is rewritten when cells ran,
    or when the grid file or the stored cells changed after it was written (adding, replacing or
    removing a cell file changes its folder's modification time)."""
    report = Path(out_root) / f"{spec.name}.md"
    cells = Store(results_root, spec.name).dir
    changed = max(cells.stat().st_mtime, Path(spec.path).stat().st_mtime)
    if ran or not report.is_file() or report.stat().st_mtime < changed:
        return build_report(spec, results_root, out_root), True
    return report, False

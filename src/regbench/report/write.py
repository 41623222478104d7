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

from regbench.analysis.collect import Analysis, collect
from regbench.analysis.inputs import read_inputs
from regbench.errors import StoreError
from regbench.grid.spec import GridSpec
from regbench.names import file_part
from regbench.records.disk import TEMP_SUFFIX, atomic_write
from regbench.report import figures as figure_list
from regbench.report import plots
from regbench.report.figures import Drawing, Figure
from regbench.report.page import render


def write_tables(tables: Analysis, results_root: Path, grid: str) -> None:
    """results/<grid>/cells.csv (one row per cell) and history.csv (long form) for users' own analysis."""
    folder = Path(results_root) / grid
    # `arm`: the cell is at its technique set's tuned learning rate (what the analyses compare)
    cells = (
        tables.cells.assign(arm=tables.cells["cell_id"].isin(tables.arms["cell_id"]))
        if len(tables.cells)
        else tables.cells
    )
    # `members` and `doses` (tuples) stay out of the CSV: `techniques` and `candidate` say the same
    atomic_write(folder / "cells.csv", csv_bytes(cells.drop(columns=["members", "doses"], errors="ignore")))
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
    PARALLEL_FROM stored cells on, else 1 = all in this process). The workers start once the
    results are read, so their imports overlap with the analysis. A place that cannot be written
    (a read-only folder, a full disk) is a StoreError naming it; the stored cells are untouched."""
    try:
        return write_report(spec, results_root, out_root, jobs)
    except OSError as exc:
        where = Path(exc.filename) if exc.filename else Path(out_root)
        if where.name.startswith(".") and where.name.endswith(TEMP_SUFFIX):  # an atomic write's temporary file
            where = where.parent
        raise StoreError(f"cannot write the report or its tables to {where} ({exc.strerror or exc})") from None


def write_report(spec: GridSpec, results_root: Path, out_root: Path, jobs: int | None) -> Path:
    """build_report's work."""
    folder = Path(out_root) / spec.name
    inputs = read_inputs(spec, results_root)
    if jobs is None:
        jobs = joblib.cpu_count() if len(inputs.stored) >= PARALLEL_FROM else 1
    pool = report_workers(jobs)
    try:
        analysis = collect(inputs)
        tasks = figure_tasks(analysis, folder)
        calls = [(draw, (figure.plot, drawing.args, path)) for figure, drawing, path in tasks]
        calls.insert(min(2, len(calls)), (write_tables, (analysis, results_root, spec.name)))  # among the slowest
        wait = start_all(pool, calls)
        # Links in the page's order: by figure as registered, then as drawn.
        links = {
            (f.name, d.key): f"{spec.name}/{path.name}"
            for f, d, path in sorted(tasks, key=lambda t: figure_list.FIGURES.index(t[0]))
        }
        text = render(spec, analysis, links)
        wait()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    figures = {path for *_, path in tasks}
    remove_stale_figures(folder, figures)
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


def figure_tasks(a: Analysis, folder: Path) -> list[tuple[Figure, Drawing, Path]]:
    """(figure, drawing, path) of every figure the analysis allows, the slow ones first (learning
    curves, heatmaps), so that parallel workers finish together."""
    ordered = sorted(figure_list.FIGURES, key=lambda f: not f.slow)  # stable: registry order within each group
    # file_part: a figure's file stays in `folder` whatever its name is made of
    return [(f, d, folder / file_part(d.file)) for f in ordered for d in f.drawings(a)]

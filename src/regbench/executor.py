"""Run many cells: in this process for --jobs 1, else in joblib worker processes.

Workers return results; only this process writes to the store, so a killed run never leaves a torn
file and a rerun resumes from whatever was stored.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import joblib
from tqdm import tqdm

from regbench.cell import Cell
from regbench.runner import RunOptions
from regbench.store import Store


def threads_per_worker(jobs: int) -> int:
    """TensorFlow threads per worker so that workers x threads <= cores (joblib counts the cores
    this process may use: CPU affinity and cgroup quotas)."""
    return max(1, joblib.cpu_count() // jobs)


def _run(cell: Cell, options: RunOptions) -> dict[str, Any]:
    from regbench.runner import run_cell  # imported in the worker: TensorFlow starts there

    return run_cell(cell, options)


def results(cells: list[Cell], options: RunOptions, jobs: int) -> Iterator[dict[str, Any]]:
    """Result records of `cells` in the order they finish."""
    if jobs == 1 or len(cells) == 1:
        for cell in cells:
            yield _run(cell, options)
        return
    from joblib import Parallel, delayed

    worker_options = replace(options, threads=threads_per_worker(jobs))
    parallel = Parallel(n_jobs=jobs, backend="loky", batch_size=1, return_as="generator_unordered")
    yield from parallel(delayed(_run)(cell, worker_options) for cell in cells)


@dataclass
class Summary:
    ran: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)


def run_and_store(
    cells: list[Cell],
    store: Store,
    options: RunOptions,
    jobs: int = 1,
    label: str = "cells",
) -> Summary:
    """Run `cells`, store each result as it arrives, show progress; returns what ran and failed."""
    summary = Summary()
    with tqdm(total=len(cells), desc=label, unit="cell", dynamic_ncols=True) as bar:
        for record in results(cells, options, jobs):
            store.write(record)
            summary.ran += 1
            if record["status"] != "ok":
                summary.failed.append(record)
                bar.write(f"failed: {record['slug']} ({record['cell_id']}): {record['error']}", file=sys.stderr)
            bar.set_postfix(failed=len(summary.failed), refresh=False)
            bar.update()
    return summary

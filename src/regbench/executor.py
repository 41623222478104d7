"""Run many cells: in this process, in joblib worker processes (one or more per GPU), or on a Dask
cluster (regbench.cluster).

Workers return results; only this process writes to the store, so a killed run never leaves a torn
file and a rerun resumes from whatever was stored.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from tqdm import tqdm

from regbench.cell import Cell
from regbench.cluster import dask_results
from regbench.result import Result
from regbench.runner import RunOptions
from regbench.store import Store
from regbench.workers import Plan, run_in_worker, threads_per_worker


def results(cells: list[Cell], options: RunOptions, plan: Plan = Plan()) -> Iterator[Result]:
    """Result records of `cells` in the order they finish. A Dask cluster is connected to (or
    started) before this returns, so a bad scheduler address fails before any cell."""
    if plan.backend == "dask":
        return dask_results(cells, options, plan)
    return local_results(cells, options, plan)


def local_results(cells: list[Cell], options: RunOptions, plan: Plan) -> Iterator[Result]:
    with tempfile.TemporaryDirectory(prefix="regbench-slots-") as lock_dir:
        if plan.workers == 1 or len(cells) == 1:
            for cell in cells:
                yield run_in_worker(cell, options)  # one GPU at most: nothing to choose
            return
        from joblib import Parallel, delayed

        worker_options = replace(options, threads=options.threads or threads_per_worker(plan.workers))
        parallel = Parallel(n_jobs=plan.workers, backend="loky", batch_size=1, return_as="generator_unordered")
        yield from parallel(delayed(run_in_worker)(c, worker_options, lock_dir, plan.devices) for c in cells)


@dataclass
class Summary:
    ran: int = 0
    failed: list[Result] = field(default_factory=list)


def run_and_store(
    cells: list[Cell],
    store: Store,
    options: RunOptions,
    plan: Plan = Plan(),
    label: str = "cells",
) -> Summary:
    """Run `cells`, store each result as it arrives, show progress; returns what ran and failed."""
    summary = Summary()
    records = results(cells, options, plan)
    with tqdm(total=len(cells), desc=label, unit="cell", dynamic_ncols=True) as bar:
        for record in records:
            store.write(record)
            summary.ran += 1
            if not record.ok:
                summary.failed.append(record)
                bar.write(f"failed: {record.slug} ({record.cell_id}): {record.error}", file=sys.stderr)
            bar.set_postfix(failed=len(summary.failed), refresh=False)
            bar.update()
    return summary

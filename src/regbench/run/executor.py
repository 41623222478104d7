"""Run many cells: in this process, in joblib worker processes (one or more per GPU), or on a Dask
cluster (regbench.run.cluster).

Workers return results; only this process writes to the store, so a killed run never leaves a torn
file and a rerun resumes from whatever was stored.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from tqdm import tqdm

from regbench.grid.cell import Cell
from regbench.result import Result
from regbench.run.cluster import dask_results
from regbench.run.workers import Plan, run_in_worker, threads_per_worker
from regbench.store import Store
from regbench.train.options import RunOptions


def results(cells: Iterable[Cell], options: RunOptions, plan: Plan = Plan()) -> Iterator[Result]:
    """Result records of `cells` in the order they finish. A Dask cluster is connected to (or
    started) before this returns, so a bad scheduler address fails before any cell. `cells` may be
    a lazy iterable: local workers take the next cell only when one is free."""
    if plan.backend == "dask":
        return dask_results(list(cells), options, plan)
    return local_results(cells, options, plan)


def local_results(cells: Iterable[Cell], options: RunOptions, plan: Plan) -> Iterator[Result]:
    with tempfile.TemporaryDirectory(prefix="regbench-slots-") as lock_dir:
        if plan.workers == 1:
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
    by_others: int = 0  # cells another process sharing the results folder ran meanwhile


def run_and_store(
    cells: list[Cell],
    store: Store,
    options: RunOptions,
    plan: Plan = Plan(),
    label: str = "cells",
) -> Summary:
    """Run `cells`, store each result as it arrives, show progress; returns what ran and failed.
    Each cell is claimed just before it runs, so processes sharing the results folder divide the
    cells; then this one waits for the cells others hold and runs any a dead process left."""
    summary, ran = Summary(), set()
    # Stored files older than this run are results to replace only when `cells` holds them (--force).
    started = time.time()

    def claimed(wait: bool) -> Iterator[Cell]:
        for cell in cells:
            if cell.cell_id not in ran and store.claim(cell.cell_id, wait=wait, stored_after=started):
                ran.add(cell.cell_id)
                yield cell

    def passes() -> Iterator[Iterator[Result]]:
        yield free
        yield results(claimed(True), options, plan)  # made only once the free cells are done

    try:
        # The free cells first (a Dask cluster is connected to now, so a bad scheduler address is
        # one line before any progress bar); then those another process held, once it lets go.
        free = results(claimed(False), options, plan)
        with tqdm(total=len(cells), desc=label, unit="cell", dynamic_ncols=True) as bar:
            for records in passes():
                for record in records:
                    store.write(record)
                    store.release(record.cell_id)
                    summary.ran += 1
                    if not record.ok:
                        summary.failed.append(record)
                        bar.write(f"failed: {record.slug} ({record.cell_id}): {record.error}", file=sys.stderr)
                    bar.set_postfix(failed=len(summary.failed), refresh=False)
                    bar.update()
            summary.by_others = len(cells) - summary.ran
            bar.update(summary.by_others)
    finally:
        store.release_all()
    return summary

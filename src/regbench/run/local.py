"""Cells on this machine: in this process (one worker), or in joblib's loky worker processes, one
or more per GPU. Workers return results; the caller writes them to the store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace

from regbench.grid.cell import Cell
from regbench.result import Result
from regbench.run.workers import Plan, run_in_worker, threads_per_worker
from regbench.train.options import RunOptions


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

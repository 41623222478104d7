"""Cells on this machine: in this process (one worker), or in joblib's loky worker processes, one
or more per GPU. Workers return results; the caller writes them to the store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from regbench.grid.cell import Cell
from regbench.result import Result
from regbench.run.answers import accepted
from regbench.run.workers import Plan, run_in_worker, run_tagged, threads_per_worker
from regbench.train.options import RunOptions


def local_results(cells: Iterable[Cell], options: RunOptions, plan: Plan) -> Iterator[Result]:
    """Each cell's record as it finishes, checked against the cell sent (answers.accepted)."""
    with tempfile.TemporaryDirectory(prefix="regbench-slots-") as lock_dir:
        if plan.workers == 1:
            for cell in cells:
                yield accepted(cell, run_in_worker(cell, options), options)  # one GPU at most: nothing to choose
            return
        from joblib import Parallel, delayed

        worker_options = replace(options, threads=options.threads or threads_per_worker(plan.workers))
        parallel = Parallel(n_jobs=plan.workers, backend="loky", batch_size=1, return_as="generator_unordered")
        sent: list[Cell] = []  # in the order handed out: a worker answers with the position it got

        def tasks() -> Iterator[Any]:
            for cell in cells:
                sent.append(cell)
                yield delayed(run_tagged)(len(sent) - 1, cell, worker_options, lock_dir, plan.devices)

        for position, record in parallel(tasks()):
            yield accepted(sent[position], record, options)

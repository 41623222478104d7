"""Cells on this machine: in this process (one worker), or in joblib's loky worker processes, one
or more per GPU, each task a run of cells of one shape. Workers return results; the caller checks
them against the cells sent and writes them to the store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from regbench.grid.cell import Cell
from regbench.result import Result
from regbench.run.answers import accepted
from regbench.run.workers import Plan, run_group_tagged, run_in_worker, threads_per_worker
from regbench.train import compiled
from regbench.train.options import RunOptions

# Cells of one shape a worker runs as one task: with a task per cell, the two workers of a 2-core
# run took turns on each shape and both traced its model (the quick grid: 43 shapes of 6 cells
# each). Larger groups trace less but hand results back later (a killed run loses the cells of its
# unfinished groups) and leave a worker idle longer at the end of a run.
GROUP = 8


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
        sent: list[list[Cell]] = []  # groups in the order handed out: a worker answers with the position it got

        def tasks() -> Iterator[Any]:
            for group in shape_groups(cells, options):
                sent.append(group)
                yield delayed(run_group_tagged)(len(sent) - 1, group, worker_options, lock_dir, plan.devices)

        for position, records in parallel(tasks()):
            group = sent[position]
            if not isinstance(records, list) or len(records) != len(group):
                records = [None] * len(group)  # a malformed answer: each cell is refused below
            for cell, record in zip(group, records, strict=True):
                yield accepted(cell, record, options)


def shape_groups(cells: Iterable[Cell], options: RunOptions, size: int = GROUP) -> Iterator[list[Cell]]:
    """Runs of consecutive cells that share a compiled model (train/compiled.sort_key), at most
    `size` each; a cell that never shares one alone. Takes each cell from `cells` only when the
    group before it is complete, but one: the cell that ends a group starts the next."""
    group: list[Cell] = []
    key = None
    for cell in cells:
        this = compiled.sort_key(cell, options.precision, options.xla)
        if group and (this != key or this[0] or len(group) == size):
            yield group
            group = []
        group.append(cell)
        key = this
    if group:
        yield group

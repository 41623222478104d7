"""Cells on this machine: in this process (one worker), or in joblib's loky worker processes, one
or more per GPU, each task a run of cells of one shape that lasts about TASK_SECONDS. Workers
return results; the caller checks them against the cells sent and writes them to the store."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from regbench.grid.cell import Cell
from regbench.records.result import Result
from regbench.run.answers import accepted
from regbench.run.workers import Plan, run_group_tagged, run_in_worker, threads_per_worker
from regbench.train import compiled
from regbench.train.options import RunOptions

# Cells of one shape a worker runs as one task: with a task per cell, the two workers of a 2-core
# run took turns on each shape and both traced its model (the quick grid: 43 shapes of 6 cells
# each). Larger groups trace less but hand results back later (a killed run loses the cells of
# its unfinished groups) and leave a worker idle longer at the end of a run. So a task holds at
# most GROUP cells and about TASK_SECONDS of them, as the shape's last cell took: Fashion-MNIST's
# 45- and 105-second cells had come back 5 or 6 at a time, up to 9 minutes of a worker's
# training lost when a run was stopped. A worker keeps the models it compiled, so splitting a
# shape costs at most one trace per worker, not one per task.
GROUP = 8
TASK_SECONDS = 60.0


class Pace:
    """Seconds the last cell of each shape took (its record's wall time): how many cells of that
    shape the next task holds. A shape none of whose cells came back yet goes at the pace of the
    last cell of any shape (a task of one cell when none came back at all): at one cell per new
    shape, the two workers of quick each traced most shapes, 62 more traces and ~2 minutes more."""

    def __init__(self) -> None:
        self.seconds: dict[Hashable, float] = {}
        self.last: float | None = None

    def saw(self, key: Hashable, record: Any) -> None:
        seconds = getattr(record, "wall_time_s", None)
        if isinstance(seconds, (int, float)) and seconds > 0:
            self.seconds[key] = self.last = float(seconds)

    def size(self, key: Hashable) -> int:
        seconds = self.seconds.get(key, self.last)
        return 1 if seconds is None else max(1, min(GROUP, int(TASK_SECONDS // seconds)))


PACE = Pace()  # kept across a run's stages: its evaluation cells go at the pace their tuning cells went


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
            for group in shape_groups(cells, options, limit=PACE.size):
                sent.append(group)
                yield delayed(run_group_tagged)(len(sent) - 1, group, worker_options, lock_dir, plan.devices)

        for position, records in parallel(tasks()):
            group = sent[position]
            if not isinstance(records, list) or len(records) != len(group):
                records = [None] * len(group)  # a malformed answer: each cell is refused below
            PACE.saw(shape_of(group[-1], options), records[-1])
            for cell, record in zip(group, records, strict=True):
                yield accepted(cell, record, options)


def shape_of(cell: Cell, options: RunOptions) -> tuple:
    """The key of the compiled model the cell can share (train/compiled.sort_key)."""
    return compiled.sort_key(cell, options.precision, options.xla)


def shape_groups(
    cells: Iterable[Cell], options: RunOptions, size: int = GROUP, limit: Callable[[tuple], int] | None = None
) -> Iterator[list[Cell]]:
    """Runs of consecutive cells that share a compiled model (train/compiled.sort_key), at most
    `size` each and at most what `limit(key)` says as the group starts; a cell that never shares
    one alone. Takes each cell from `cells` only when the group before it is complete, but one:
    the cell that ends a group starts the next."""
    group: list[Cell] = []
    key, cap = None, size
    for cell in cells:
        this = shape_of(cell, options)
        if group and (this != key or this[0] or len(group) == cap):
            yield group
            group = []
        if not group:
            cap = min(size, limit(this)) if limit else size
        group.append(cell)
        key = this
    if group:
        yield group

"""The loop that runs a grid's cells into its store: each cell claimed just before it runs (so
processes sharing a results folder divide the cells), every result written as it arrives, a
progress bar, and then the cells other processes held. Only this process writes to the store, so
a killed run never leaves a torn file and a rerun resumes from whatever was stored."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from tqdm import tqdm

from regbench.grid.cell import Cell
from regbench.result import Result
from regbench.run.executors import results
from regbench.run.workers import Plan
from regbench.store import Store
from regbench.train import compiled
from regbench.train.options import RunOptions


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
    """Run `cells`, those that share a compiled model back to back, store each result as it
    arrives, show progress; returns what ran and failed. Each cell is claimed just before it runs,
    so processes sharing the results folder divide the cells; then this one waits for the cells
    others hold and runs any a dead process left."""
    summary, ran = Summary(), set()
    # Cells that share a compiled model run back to back, so that a worker starts each from the
    # one it keeps (train/compiled.py); which cells run and what they store do not change.
    cells = sorted(cells, key=lambda c: compiled.sort_key(c, options.precision, options.xla))
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

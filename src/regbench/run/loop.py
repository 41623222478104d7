"""The loop that runs a grid's cells into its store: each cell claimed just before it runs (so
processes sharing a results folder divide the cells), every result written as it arrives, a
progress bar, and then the cells other processes held. Only this process writes to the store, so
a killed run never leaves a torn file and a rerun resumes from whatever was stored; and only
records checked against the cell that was sent (run/answers.py) are stored, under that cell's id."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from regbench.grid.cell import Cell
from regbench.records.result import Result
from regbench.records.store import Store, Version
from regbench.records.validate import short
from regbench.run.answers import accepted
from regbench.run.executors import results
from regbench.run.workers import Plan
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
    seen: Mapping[str, Version | None] | None = None,
) -> Summary:
    """Run `cells`, those that share a compiled model back to back, store each result as it
    arrives, show progress; returns what ran and failed. Each cell is claimed just before it runs,
    so processes sharing the results folder divide the cells; then this one waits for the cells
    others hold and runs any a dead process left. `seen`: each cell's file as the store held it
    when the run decided to run it (Store.decide; default: as it is now); a cell stored by anyone
    since is not run again."""
    summary, ran = Summary(), set()
    seen = {c.cell_id: store.version(c.cell_id) for c in cells} if seen is None else seen
    outstanding: dict[str, Cell] = {}  # claimed and sent, no record back yet
    # Cells that share a compiled model run back to back, so that a worker starts each from the
    # one it keeps (train/compiled.py); which cells run and what they store do not change.
    cells = sorted(cells, key=lambda c: compiled.sort_key(c, options.precision, options.xla))

    def claimed(wait: bool) -> Iterator[Cell]:
        for cell in cells:
            if cell.cell_id not in ran and store.claim(cell.cell_id, wait=wait, seen=seen.get(cell.cell_id)):
                ran.add(cell.cell_id)
                outstanding[cell.cell_id] = cell
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
                for answer in records:
                    if (record := answer_to(answer, outstanding, options, bar)) is None:
                        continue
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


def answer_to(answer: Any, outstanding: dict[str, Cell], options: RunOptions, bar: tqdm) -> Result | None:
    """The record to store for an executor's answer: checked against the outstanding cell it names
    (the built-in executors have checked it against the cell they sent already); None, with a
    warning, for an answer that names no cell this run sent."""
    cell_id = getattr(answer, "cell_id", None)
    cell = outstanding.pop(cell_id, None) if isinstance(cell_id, str) else None
    if cell is None:
        bar.write(f"regbench: warning: an answer for a cell this run did not send ({short(cell_id)}); not stored",
                  file=sys.stderr)  # fmt: skip
        return None
    return accepted(cell, answer, options)

"""Running a grid, end to end short of its report: read and expand the grid, select cells, decide
what is left to run, check the data, plan where cells go and run them into the store. What
`regbench run` and `regbench cell` do; the CLI only parses their options and prints the outcome."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from regbench.errors import UsageError
from regbench.grid.cell import Cell
from regbench.grid.expand import expand, selected
from regbench.grid.parse import load_spec
from regbench.grid.spec import GridSpec
from regbench.result import Result
from regbench.run.answers import accepted
from regbench.run.devices import detect_gpus
from regbench.run.loop import Summary, run_and_store
from regbench.run.workers import Plan, plan_run
from regbench.store import Store
from regbench.train.options import RunOptions


@dataclass(frozen=True)
class RunRequest:
    """What to run and where: the options of `regbench run`."""

    grid: str
    results: Path = Path("results")
    only: tuple[str, ...] = ()
    force: bool = False
    retry_failed: bool = False
    jobs: int | None = None
    cells_per_gpu: int = 1
    executor: str = "local"
    scheduler: str | None = None
    options: RunOptions = RunOptions()
    verbose: bool = False


@dataclass(frozen=True)
class Outcome:
    """What a run did: the grid, its store, the selected cells, the summary of what ran (None when
    nothing was left to run) and the datasets whose cells could not run (data missing)."""

    spec: GridSpec
    store: Store
    cells: tuple[Cell, ...]
    summary: Summary | None
    missing_data: frozenset[str]

    @property
    def ids(self) -> set[str]:
        return {c.cell_id for c in self.cells}

    def counts(self) -> tuple[int, int, int]:
        """(ok, failed, not stored) among the selected cells, as stored now."""
        stored = self.store.statuses(self.ids)
        failed = sum(status == "failed" for status in stored.values())
        return len(stored) - failed, failed, len(self.ids - stored.keys())


def needed_datasets(cell: Cell) -> set[str]:
    """The cell's dataset and those its techniques need (a transfer source)."""
    return {cell.dataset, *(name for t in cell.technique_objects() for name in t.needs_datasets())}


def check_data(cells: Sequence[Cell], options: RunOptions) -> set[str]:
    """Load each dataset the cells need once (downloading if allowed); the names of those missing,
    each said in one line on stderr."""
    from regbench.train.datasets import load_raw

    missing = set()
    for name in sorted(set().union(*(needed_datasets(c) for c in cells))):
        try:
            load_raw(name, options.data_dir, options.offline)
        except UsageError as exc:
            print(f"regbench: error: {exc}", file=sys.stderr)
            missing.add(name)
    return missing


def plan_for(request: RunRequest) -> Plan:
    """Where the cells go: GPUs found here (none with a --scheduler: the cluster's workers have
    their own), --jobs, --cells-per-gpu, the executor and its scheduler."""
    executor = "dask" if request.scheduler else request.executor
    gpus = [] if request.scheduler else detect_gpus()
    if gpus and request.jobs:
        print(f"note: --jobs {request.jobs} is ignored on a GPU box; --cells-per-gpu sets the workers", file=sys.stderr)
    return plan_run(request.jobs, gpus, request.cells_per_gpu, executor, request.scheduler)


def run_grid(request: RunRequest) -> Outcome:
    """Run every selected cell of the grid that is not stored yet (all with `force`), storing each
    as it arrives; cells whose data is missing are left out and named."""
    if request.verbose:  # workers inherit it: each shows its backend's start-up log
        os.environ["REGBENCH_VERBOSE"] = "1"
    spec = load_spec(request.grid)
    every = expand(spec).cells
    cells = selected(every, request.only)
    if not cells:
        raise UsageError(
            f"--only {' '.join(request.only)}: no cell of grid '{spec.name}' matches; see `regbench list {request.grid}`"
        )
    store = Store(request.results, spec.name, every)
    store.remove_stale_temp_files()
    # What the store held when this run decided: a cell stored by anyone after that is not run
    # again (the claim is checked against it), however long loading the data takes.
    todo, seen = store.decide(cells, force=request.force, retry_failed=request.retry_failed)
    missing = check_data(todo, request.options) if todo else set()
    todo = [c for c in todo if not needed_datasets(c) & missing]
    print(
        f"{spec.name}: {len(cells)} cells, {len(cells) - len(todo)} already stored, {len(todo)} to run -> {store.dir}"
    )
    summary = None
    if todo:
        plan = plan_for(request)
        print(f"running on {plan.describe()}")
        options = replace(request.options, pretrained_dir=store.dir.parent / "pretrained")
        summary = run_and_store(todo, store, options, plan, label=spec.name, seen=seen)
    return Outcome(spec, store, tuple(cells), summary, frozenset(missing))


def find_cell(grid: str, wanted: str) -> tuple[GridSpec, Cell]:
    """The one cell of `grid` whose slug is `wanted` or whose id starts with it."""
    spec = load_spec(grid)
    matches = [c for c in expand(spec).cells if c.slug == wanted or c.cell_id.startswith(wanted)]
    if not matches:
        raise UsageError(
            f"cell '{wanted}' is not in grid '{spec.name}'; allowed: an id (prefix) or slug from `regbench list {grid}`"
        )
    if len(matches) > 1:
        raise UsageError(
            f"cell '{wanted}' matches {len(matches)} cells of '{spec.name}' ({', '.join(c.cell_id for c in matches[:5])}...); give more of the id"
        )
    return spec, matches[0]


def run_one(spec: GridSpec, cell: Cell, results: Path, options: RunOptions) -> tuple[Result, Path]:
    """Train one cell in this process and store its record (replacing the old one): (record, path)."""
    from regbench.train.runner import run_cell  # TensorFlow starts here, not when the CLI starts

    store = Store(results, spec.name)
    record = run_cell(cell, replace(options, pretrained_dir=store.dir.parent / "pretrained"))
    record = accepted(cell, record, options)  # an ok record with a NaN score is stored as failed
    return record, store.write(record)

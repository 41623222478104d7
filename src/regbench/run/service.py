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
from regbench.grid.parse import load_spec, shipped_grids
from regbench.grid.spec import GridSpec
from regbench.grid.stored import expand_stored, resolve
from regbench.records.result import Result
from regbench.records.store import Store
from regbench.run.answers import accepted
from regbench.run.devices import detect_gpus
from regbench.run.loop import Summary, run_and_store
from regbench.run.workers import Plan, plan_run
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


def missing_here(cell: Cell, data_dir: Path | None = None) -> list[str]:
    """What the cell needs that is not on this machine (datasets, ImageNet weights), looked up by
    name without reading a file, each as a line saying what is missing."""
    from regbench.train.datasets import get_dataset

    absent = [
        f"{name} data" for name in sorted(needed_datasets(cell)) if not get_dataset(name).on_this_machine(data_dir)
    ]
    return absent + [line for t in cell.technique_objects() for line in t.missing_here()]


def check_data(cells: Sequence[Cell], options: RunOptions, missing: set[str]) -> tuple[list[Cell], set[str]]:
    """(the cells whose data is here, the datasets missing: `missing` and those found missing
    now). Each other dataset the cells need that is read from files is loaded once (downloading
    if allowed); each one found missing is said in one line on stderr. Datasets generated or
    shipped with a dependency cannot be missing and are left to the workers: generating MNIST-1D
    and the printed digits here took quick ~30 s before any worker started."""
    from regbench.train.datasets import get_dataset, load_raw

    needs = [needed_datasets(c) for c in cells]
    missing = set(missing)
    for name in sorted(set().union(*needs) - missing):
        if get_dataset(name).present is None:
            continue
        try:
            load_raw(name, options.data_dir, options.offline)
        except UsageError as exc:
            print(f"regbench: error: {exc}", file=sys.stderr)
            missing.add(name)
    return [c for c, need in zip(cells, needs, strict=True) if not need & missing], missing


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
    as it arrives; cells whose data is missing are left out and named. A grid with [tuning] seeds
    runs in stages: the tuning cells first, then the evaluation cells of each arm whose tuning
    cells are all stored, at the candidate they chose."""
    if request.verbose:  # workers inherit it: each shows its backend's start-up log
        os.environ["REGBENCH_VERBOSE"] = "1"
    spec = load_spec(request.grid)
    plain = expand(spec)
    store = Store(request.results, spec.name, plain.cells)  # it checks each record against its grid cell
    done: set[str] = set()  # cells this run has run (a --force run recomputes each once)
    summary, missing, cells = None, set(), []
    while True:
        # Expanded once; each stage reads the tuning records stored so far and resolves the arms
        # they complete (what grid/stored.expand_stored does in one call).
        tuning = store.records(plain.tuning_ids) if plain.pending else {}
        expansion = resolve(spec, plain, tuning)
        cells = selected(expansion.cells, request.only)
        if not cells and not expansion.pending:
            raise UsageError(
                f"--only {' '.join(request.only)}: no cell of grid '{spec.name}' matches; see `regbench list {request.grid}`"
            )
        store.expect(expansion.cells)
        # What the store held when this run decided: a cell stored by anyone after that is not run
        # again (the claim is checked against it), however long loading the data takes.
        todo, seen = store.decide(cells, force=request.force, retry_failed=request.retry_failed)
        store.remove_stale_temp_files()  # a killed writer's, before this stage writes
        todo = [c for c in todo if c.cell_id not in done]
        todo, missing = check_data(todo, request.options, missing)
        stage = "" if not (expansion.pending or done) else " (tuning first)" if not done else " (after tuning)"
        print(
            f"{spec.name}{stage}: {len(cells)} cells, {len(cells) - len(todo)} already stored, {len(todo)} to run -> {store.dir}"
        )
        if not todo:
            break
        summary = add(summary, run_cells(request, store, todo, spec.name, seen))
        done |= {c.cell_id for c in todo}
        if not expansion.pending:
            break
    return Outcome(spec, store, tuple(cells), summary, frozenset(missing))


def run_cells(request: RunRequest, store: Store, cells: list[Cell], label: str, seen: dict) -> Summary:
    """Run `cells` into the store where the request says; `seen`: their files' versions when decided."""
    plan = plan_for(request)
    print(f"running on {plan.describe()}")
    options = replace(request.options, pretrained_dir=store.dir.parent / "pretrained")
    return run_and_store(cells, store, options, plan, label=label, seen=seen)


def add(total: Summary | None, more: Summary) -> Summary:
    """Two stages' summaries as one."""
    if total is None:
        return more
    return Summary(total.ran + more.ran, total.failed + more.failed, total.by_others + more.by_others)


def find_cell(grid: str, wanted: str, results: Path) -> tuple[GridSpec, Cell]:
    """The one cell of `grid` whose slug is `wanted` or whose id starts with it (evaluation cells
    of a tuned grid once their tuning cells are stored under `results`)."""
    spec = load_spec(grid)
    cells = expand_stored(spec, Store(results, spec.name)).cells
    matches = [c for c in cells if c.slug == wanted or c.cell_id.startswith(wanted)]
    if not matches:
        elsewhere = [name for name in shipped_grids() if name != spec.name and has_cell(name, wanted)]
        hint = f" (it is a cell of {', '.join(elsewhere)}: add --grid {elsewhere[0]})" if elsewhere else ""
        raise UsageError(
            f"cell '{wanted}' is not in grid '{spec.name}'{hint}; allowed: an id (prefix) or slug from `regbench list {grid}`"
        )
    if len(matches) > 1:
        raise UsageError(
            f"cell '{wanted}' matches {len(matches)} cells of '{spec.name}' ({', '.join(c.cell_id for c in matches[:5])}...); give more of the id"
        )
    return spec, matches[0]


def has_cell(grid: str, wanted: str) -> bool:
    """Whether a shipped grid has a cell with this slug or id prefix (its cross-fitted cells; cells
    waiting for tuning seeds are not known without results)."""
    return any(c.slug == wanted or c.cell_id.startswith(wanted) for c in expand(load_spec(grid)).cells)


def run_one(spec: GridSpec, cell: Cell, results: Path, options: RunOptions) -> tuple[Result, Path]:
    """Train one cell in this process and store its record (replacing the old one): (record, path)."""
    from regbench.train.runner import run_cell  # TensorFlow starts here, not when the CLI starts

    store = Store(results, spec.name)
    record = run_cell(cell, replace(options, pretrained_dir=store.dir.parent / "pretrained"))
    record = accepted(cell, record, options)  # an ok record with a NaN score is stored as failed
    return record, store.write(record)

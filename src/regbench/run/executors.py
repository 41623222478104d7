"""The executors cells can run on, by name: `local` (this machine's processes) and `dask` (a Dask
cluster). Adding one = a function (cells, options, plan) -> results in the order they finish, and
a line here; the CLI's --executor choices come from this registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from regbench.grid.cell import Cell
from regbench.records.result import Result
from regbench.registry import Registry
from regbench.run.cluster import dask_results
from regbench.run.local import local_results
from regbench.run.workers import Plan
from regbench.train.options import RunOptions

Executor = Callable[[Iterable[Cell], RunOptions, Plan], Iterator[Result]]
EXECUTORS: Registry[Executor] = Registry("executor")
EXECUTORS.register("local", local_results)
EXECUTORS.register("dask", lambda cells, options, plan: dask_results(list(cells), options, plan))


def results(cells: Iterable[Cell], options: RunOptions, plan: Plan = Plan()) -> Iterator[Result]:
    """Result records of `cells` in the order they finish, on `plan.executor`. A Dask cluster is
    connected to (or started) before this returns, so a bad scheduler address fails before any
    cell; local workers take the next cell of a lazy `cells` only when one is free."""
    return EXECUTORS.get(plan.executor)(cells, options, plan)

"""Run many cells: in this process, in joblib worker processes (one or more per GPU), or on a Dask
cluster (regbench.cluster).

Workers return results; only this process writes to the store, so a killed run never leaves a torn
file and a rerun resumes from whatever was stored.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import joblib
from tqdm import tqdm

from regbench.cell import Cell
from regbench.devices import Gpu, claim_device, worker_devices
from regbench.runner import RunOptions
from regbench.store import Store


@dataclass(frozen=True)
class Plan:
    """Where cells run: `workers` processes, each seeing only devices[i] (CUDA_VISIBLE_DEVICES) of
    its slot; no devices = CPU. backend "local" (joblib) or "dask" (scheduler None: a LocalCluster)."""

    workers: int = 1
    devices: tuple[str, ...] = ()
    backend: str = "local"
    scheduler: str | None = None

    def describe(self) -> str:
        """One line for the user, e.g. '2 GPU(s), 2 cell(s) per GPU; local'."""
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler} (its workers)"
        gpus = len(set(self.devices))
        where = f"{gpus} GPU(s), {self.workers // gpus} cell(s) per GPU" if gpus else f"CPU, {self.workers} worker(s)"
        return f"{where}; {'dask LocalCluster' if self.backend == 'dask' else 'local'}"


def plan_run(
    jobs: int | None, gpus: list[Gpu], cells_per_gpu: int = 1, backend: str = "local", scheduler: str | None = None
) -> Plan:
    """With GPUs: `cells_per_gpu` workers per GPU (`jobs` ignored); without: `jobs` CPU workers
    (default 1). An external scheduler decides its own workers."""
    if gpus:
        devices = tuple(worker_devices(gpus, cells_per_gpu))
        return Plan(len(devices), devices, backend, scheduler)
    return Plan(jobs or 1, (), backend, scheduler)


def threads_per_worker(workers: int) -> int:
    """TensorFlow threads per worker so that workers x threads <= cores (joblib counts the cores
    this process may use: CPU affinity and cgroup quotas)."""
    return max(1, joblib.cpu_count() // workers)


_ONE_CELL_AT_A_TIME = threading.Lock()  # Keras' session, seed and dtype policy are per process


def run_in_worker(cell: Cell, options: RunOptions, lock_dir: str | None = None, devices: tuple[str, ...] = ()):
    """A worker's entry point: on its first cell it takes a GPU slot (if any), then trains `cell`.
    Cells of one process never overlap, even where a worker runs several tasks in threads (Dask)."""
    if devices:
        claim_device(Path(lock_dir), list(devices))
    from regbench.runner import run_cell  # imported in the worker: TensorFlow starts there

    with _ONE_CELL_AT_A_TIME:
        return run_cell(cell, options)


def results(cells: list[Cell], options: RunOptions, plan: Plan = Plan()) -> Iterator[dict[str, Any]]:
    """Result records of `cells` in the order they finish. A Dask cluster is connected to (or
    started) before this returns, so a bad scheduler address fails before any cell."""
    if plan.backend == "dask":
        from regbench.cluster import dask_results

        return dask_results(cells, options, plan)
    return local_results(cells, options, plan)


def local_results(cells: list[Cell], options: RunOptions, plan: Plan) -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="regbench-slots-") as lock_dir:
        if plan.workers == 1 or len(cells) == 1:
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
    failed: list[dict[str, Any]] = field(default_factory=list)


def run_and_store(
    cells: list[Cell],
    store: Store,
    options: RunOptions,
    plan: Plan = Plan(),
    label: str = "cells",
) -> Summary:
    """Run `cells`, store each result as it arrives, show progress; returns what ran and failed."""
    summary = Summary()
    records = results(cells, options, plan)
    with tqdm(total=len(cells), desc=label, unit="cell", dynamic_ncols=True) as bar:
        for record in records:
            store.write(record)
            summary.ran += 1
            if record["status"] != "ok":
                summary.failed.append(record)
                bar.write(f"failed: {record['slug']} ({record['cell_id']}): {record['error']}", file=sys.stderr)
            bar.set_postfix(failed=len(summary.failed), refresh=False)
            bar.update()
    return summary

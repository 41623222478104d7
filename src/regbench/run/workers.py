"""Where cells run (Plan: worker processes, their devices, local or Dask) and the entry point each
worker process runs a cell through. The local executor and the Dask cluster both build on it."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import joblib

from regbench.grid.cell import Cell
from regbench.run.devices import Gpu, claim_device, worker_devices
from regbench.train.options import RunOptions


@dataclass(frozen=True)
class Plan:
    """Where cells run: `workers` processes, each seeing only devices[i] (CUDA_VISIBLE_DEVICES) of
    its slot; no devices = CPU. `executor`: a name in run/executors.EXECUTORS, "local" (joblib) or
    "dask" (scheduler None: a LocalCluster)."""

    workers: int = 1
    devices: tuple[str, ...] = ()
    executor: str = "local"
    scheduler: str | None = None

    def describe(self) -> str:
        """One line for the user, e.g. '2 GPU(s), 2 cell(s) per GPU; local'."""
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler} (its workers)"
        gpus = len(set(self.devices))
        where = f"{gpus} GPU(s), {self.workers // gpus} cell(s) per GPU" if gpus else f"CPU, {self.workers} worker(s)"
        return f"{where}; {'dask LocalCluster' if self.executor == 'dask' else 'local'}"


def plan_run(
    jobs: int | None, gpus: list[Gpu], cells_per_gpu: int = 1, executor: str = "local", scheduler: str | None = None
) -> Plan:
    """With GPUs: `cells_per_gpu` workers per GPU (`jobs` ignored); without: `jobs` CPU workers
    (default 1). An external scheduler decides its own workers."""
    if gpus:
        devices = tuple(worker_devices(gpus, cells_per_gpu))
        return Plan(len(devices), devices, executor, scheduler)
    return Plan(jobs or 1, (), executor, scheduler)


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
    from regbench.train.runner import run_cell  # imported in the worker: TensorFlow starts there

    with _ONE_CELL_AT_A_TIME:
        return run_cell(cell, options)


def run_group_tagged(
    position: int, cells: list[Cell], options: RunOptions, lock_dir: str | None = None, devices: tuple[str, ...] = ()
) -> tuple[int, list]:
    """A local worker process's entry point: (position, run_in_worker's record for each of `cells`,
    cells of one shape, in turn: the compiled model is then traced once for all of them,
    train/compiled.py). With unordered results, the position tells the caller which of the groups
    it handed out these records answer. The worker ends with the process that started it
    (end_with_parent)."""
    end_with_parent()
    allow_kept_models()
    return position, [run_in_worker(cell, options, lock_dir, devices) for cell in cells]


# What this worker may grow by before loky takes it for a leak: the compiled models it keeps on
# purpose (train/compiled.KEEP) add ~20 MB each on TensorFlow's CPU backend (measured: +342 MB
# after 24 shapes of quick). Under loky's own 300 MB, a worker of quick was recycled after ~14
# shapes, its kept models lost: no evaluation cell reused its tuning cells' model.
KEPT_MODELS_MEMORY = 2_000_000_000


def allow_kept_models() -> None:
    """In a loky worker: raise loky's memory-leak limit (a private module constant, read at each
    check; joblib has no option for it) to KEPT_MODELS_MEMORY, so that a worker holding its kept
    models is not replaced by a fresh one. Beyond it, loky still recycles the worker."""
    from joblib.externals.loky import process_executor

    process_executor._MAX_MEMORY_LEAK_SIZE = max(process_executor._MAX_MEMORY_LEAK_SIZE, KEPT_MODELS_MEMORY)


_WATCHING: list[int] = []  # the parent pid this worker watches, once its watchdog runs


def end_with_parent(interval_s: float = 1.0) -> None:
    """In a worker process: exit within `interval_s` once the process that started it is gone
    (a SIGKILLed `regbench run` must not leave workers training for minutes, nor the resource
    trackers that wait for them). A daemon thread compares os.getppid() with its value now: the
    kernel re-parents an orphan. Not prctl(PR_SET_PDEATHSIG): it fires when the parent *thread*
    that started the worker ends, and loky starts replacement workers from a thread. Never called
    in the main process, whose parent (a shell) may go while it runs on."""
    if _WATCHING:
        return
    _WATCHING.append(os.getppid())

    def watch() -> None:
        while os.getppid() == _WATCHING[0]:
            time.sleep(interval_s)
        os._exit(1)  # no clean-up: the parent, which would collect the result, is gone

    threading.Thread(target=watch, name="regbench-end-with-parent", daemon=True).start()

"""Which GPUs this machine has and which worker trains on which one (no TensorFlow import).

Every worker sees only its own GPU through CUDA_VISIBLE_DEVICES, set before its backend starts;
`--cells-per-gpu K` gives each GPU K workers that share its memory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import filelock


@dataclass(frozen=True)
class Gpu:
    index: str  # the physical index (or UUID) as CUDA_VISIBLE_DEVICES names it
    name: str
    memory_mib: int | None = None
    uuid: str | None = None  # "GPU-...": CUDA_VISIBLE_DEVICES may name a GPU by it


def detect_gpus() -> list[Gpu]:
    """The GPUs this process may use: nvidia-smi's list, narrowed to CUDA_VISIBLE_DEVICES when it is
    set ("" or "-1" = none). Asks the driver rather than a framework, so the parent process of the
    workers never starts TensorFlow or grabs GPU memory."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return []
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    return visible_gpus(parse_nvidia_smi(out), visible)


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """nvidia-smi's CSV rows 'index, uuid, name, memory MiB' -> Gpus."""
    gpus = []
    for line in text.strip().splitlines():
        index, uuid, name, memory = (part.strip() for part in line.split(",", 3))
        gpus.append(Gpu(index, name, int(memory) if memory.isdigit() else None, uuid))
    return gpus


def visible_gpus(gpus: list[Gpu], visible: str | None) -> list[Gpu]:
    """`gpus` in the order CUDA_VISIBLE_DEVICES lists them (by index or UUID); all when unset."""
    if visible is None:
        return gpus
    by_key = {key: g for g in gpus for key in (g.index, g.uuid)}
    return [by_key[key] for key in (k.strip() for k in visible.split(",")) if key in by_key]


def worker_devices(gpus: list[Gpu], cells_per_gpu: int) -> list[str]:
    """CUDA_VISIBLE_DEVICES of each worker: `cells_per_gpu` workers per GPU, GPUs interleaved so
    that the first workers to start spread over every card."""
    return [gpu.index for _ in range(cells_per_gpu) for gpu in gpus]


_HELD: dict[Path, filelock.BaseFileLock] = {}  # this worker's slot lock per run (lock folder)


def claim_device(lock_dir: Path, devices: list[str]) -> str | None:
    """Called by a worker before each cell: on the first cell of a run (a new `lock_dir`) take the
    first free slot of `devices` (a lock file per slot, released by the OS when the worker dies,
    so its replacement takes the same GPU) and make it the only device this process sees. Returns
    the device claimed now, or None when this run's slot was claimed before."""
    lock_dir = Path(lock_dir)
    if lock_dir in _HELD:
        return None
    for old in _HELD.values():  # a reused worker process from an earlier run
        old.release()
    _HELD.clear()
    for slot, device in enumerate(devices):
        lock = filelock.FileLock(lock_dir / f"slot-{slot}.lock", thread_local=False)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            continue
        _HELD[lock_dir] = lock
        os.environ["CUDA_VISIBLE_DEVICES"] = device
        return device
    raise RuntimeError(f"all {len(devices)} GPU slots are taken; more workers than slots")

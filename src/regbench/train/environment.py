"""Where a record was made: the device, the worker process, library versions and the git revision
of the regbench source (each read once per process)."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from regbench import __version__
from regbench.train import backend


def environment() -> dict[str, Any]:
    """device, worker {host, pid, cuda_visible_devices}, versions and git_revision of this process."""
    worker = {
        "host": platform.node(),
        "pid": os.getpid(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    return {
        "device": device_name(), "worker": worker, "versions": versions(), "git_revision": git_revision(),
        "cpu": cpu(),
    }  # fmt: skip


# Instruction sets that change which kernels oneDNN and XLA pick, hence the rounding of results.
CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "asimd", "sve")


@lru_cache(maxsize=1)
def cpu() -> dict[str, Any]:
    """{model, flags (those of CPU_FLAGS present), onednn}: what decides a CPU run's rounding.
    onednn as TensorFlow reports it (off on CPUs without AVX-512, or with TF_ENABLE_ONEDNN_OPTS=0);
    None under another backend."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags |= set(value.split())
    except OSError:  # not Linux
        pass
    onednn = backend.onednn_enabled()
    return {"model": model, "flags": sorted(flags & set(CPU_FLAGS)), "onednn": onednn}


@lru_cache(maxsize=1)
def device_name() -> str:
    """'GPU 1 (NVIDIA H100 80GB HBM3)' (the physical index CUDA_VISIBLE_DEVICES gave this worker)
    or 'CPU (x86_64, 2 cores)'."""
    gpu = backend.gpu_name()
    if gpu is None:
        return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return f"GPU {visible or 0} ({gpu})"


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    import keras

    found = {
        "regbench": __version__,
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    if library := backend.library_version():
        found[library[0]] = library[1]
    found["backend"] = backend.name()
    return found


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The regbench source's git commit (+ '-dirty' with local changes), or None outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--", "."], capture_output=True, text=True, timeout=5
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None

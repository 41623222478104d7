"""Starting the Keras backend in a worker process: the environment it must see before it starts
(GPU memory shared between workers, deterministic XLA, a quiet C++ log), its start-up chatter
hidden, and JAX's compilation cache. Nothing happens at import: `start_backend` does it once."""

from __future__ import annotations

import os
from functools import cache


def prepare_environment() -> None:
    """Variables the backend reads when it starts, so set before it is imported: TensorFlow's C++
    log (start-up chatter, a spurious tf.data attribute warning) off, its real errors still reach
    Python as exceptions; GPU memory allocated as needed, so that workers sharing a card
    (--cells-per-gpu) fit; XLA's deterministic GPU reductions and scatters, so that an --xla cell
    still repeats exactly. A value the user set is kept."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("XLA_FLAGS", "--xla_gpu_deterministic_ops=true")


@cache
def start_backend() -> None:
    """Import Keras and its backend once per process, with the C++ start-up log (absl, oneDNN and
    CUDA-stub lines, written to file descriptor 2 before any Python logging exists) sent to
    /dev/null unless REGBENCH_VERBOSE is set (`regbench run -v`). Errors still raise."""
    prepare_environment()
    if os.environ.get("REGBENCH_VERBOSE"):
        import keras  # noqa: F401

        return
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # the runtime's start (cuInit) logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    if keras.backend.backend() == "jax":
        cache_jax_compilations()


def cache_jax_compilations() -> None:
    """Keep JAX's compiled programs on disk and reuse them across cells, workers and runs. JAX
    compiles each new model's train and evaluation steps with XLA: ~1.7 s of a 3 s digits cell on
    a CPU, and a grid's cells share a few architectures. A cached program is the program a fresh
    compile makes, so the numbers do not change. The folder: JAX_COMPILATION_CACHE_DIR, else
    ~/.cache/regbench/jax (XDG_CACHE_HOME respected)."""
    import jax

    if not jax.config.jax_compilation_cache_dir:
        home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        jax.config.update("jax_compilation_cache_dir", os.path.join(home, "regbench", "jax"))
    # JAX's defaults keep only programs that took over a second to compile: a step takes ~0.5 s.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

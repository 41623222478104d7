"""A fresh, seeded Keras session for one training run: every random generator seeded from the
run's seed, deterministic ops, the thread count and dtype policy set. Used by the runner and by
pretraining; imports Keras only when called."""

from __future__ import annotations

import os
from functools import cache


@cache
def start_backend() -> None:
    """Import Keras and its backend once per process, with the C++ start-up log (absl, oneDNN and
    CUDA-stub lines, written to file descriptor 2 before any Python logging exists) sent to
    /dev/null unless REGBENCH_VERBOSE is set (`regbench run -v`). Errors still raise."""
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


def seeded_keras(seed: int, threads: int | None, precision: str = "float32", xla: bool = False):
    """Keras with a fresh session, every random generator seeded, deterministic TensorFlow ops, and
    `precision` as the dtype policy of the layers built next (reset for every cell of a worker)."""
    start_backend()
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # every cell builds a new model: retracing is expected
        if threads:
            try:  # only possible before TensorFlow's runtime starts: the first cell of a worker
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:
                pass
        # Keras refuses XLA while op determinism is on (not every op has a deterministic XLA kernel);
        # XLA's CPU kernels are deterministic, its GPU ones made so by the flag below.
        if xla:
            from tensorflow.python.framework import config as tf_config  # public API has no "disable"

            tf_config.disable_op_determinism()
        else:
            tf.config.experimental.enable_op_determinism()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(seed)
    own_python_random(seed)
    return keras


def own_python_random(seed: int) -> None:
    """Keras draws the seed of every unseeded layer and initializer from Python's global `random`,
    which other threads of the process draw from too (a Dask worker's event loop samples it to
    compress messages), so weights depended on message timing. Keras gets a generator of its own,
    in the state `random.seed(seed)` gives the global one: the same numbers as a plain process."""
    import random

    from keras.src.random import seed_generator  # private: Keras has no public hook for this

    if hasattr(seed_generator, "python_random"):
        seed_generator.python_random = random.Random(seed)

"""Starting the Keras backend in a worker process: the environment it must see before it starts
(GPU memory shared between workers, deterministic XLA, a quiet C++ log), its start-up chatter
hidden, and JAX's compilation cache. Nothing happens at import: `start_backend` does it once."""

from __future__ import annotations

import gc
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
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
    """Import Keras and its backend once per process (its objects then frozen out of the garbage
    collector's scans), with the C++ start-up log (absl, oneDNN and
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
    # The backend's modules are millions of objects that live as long as the process: out of the
    # garbage collector's sight, each full collection (they come every few cells) takes ~0.05 s
    # instead of ~0.4 s (measured on a worker training moons cells).
    gc.freeze()


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


# -- what differs between Keras backends: every `keras.backend.backend()` question is asked here --


def name() -> str:
    """The Keras backend of this process: 'tensorflow', 'jax' or 'torch'."""
    import keras

    return keras.backend.backend()


def feeds_tf_data() -> bool:
    """Whether `fit` is fed from tf.data pipelines (TensorFlow), else from a seeded generator."""
    return name() == "tensorflow"


def jit_compile(xla: bool) -> bool:
    """Keras' jit_compile for a model: XLA only when asked (Keras' "auto" would turn it on for
    TensorFlow on a GPU, and it changes the numbers); JAX always compiles with XLA."""
    return True if xla or name() == "jax" else False


def configure_session(threads: int | None, xla: bool) -> None:
    """TensorFlow only: `threads` intra- and inter-op threads (possible only before its runtime
    starts: the first cell of a worker), and deterministic ops. Keras refuses XLA while op
    determinism is on (not every op has a deterministic XLA kernel); XLA's CPU kernels are
    deterministic, its GPU ones made so by XLA_FLAGS (prepare_environment)."""
    if name() != "tensorflow":
        return
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # every cell builds a new model: retracing is expected
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass
    if xla:
        from tensorflow.python.framework import config as tf_config  # public API has no "disable"

        tf_config.disable_op_determinism()
    else:
        tf.config.experimental.enable_op_determinism()


@contextmanager
def kernels_kept() -> Iterator[None]:
    """Within it, TensorFlow's global seed is set as tf.random.set_seed sets it (the seed tf.data's
    shuffle reads) but without emptying the kernel cache, which set_seed does to restart stateful
    random kernels: regbench's models hold none (Keras draws from stateless ops with explicit
    seeds), and a kept compiled model's next call would pay ~1 s to rebuild its kernels. Other
    backends, or a TensorFlow without these private attributes: unchanged."""
    ctx = None
    if name() == "tensorflow":
        from tensorflow.python.eager import context  # private: no public setter keeps the cache

        ctx = context.context()
    if ctx is None or not all(hasattr(ctx, a) for a in ("_set_global_seed", "_seed", "_rng")):
        yield
        return

    def set_global_seed(seed: int) -> None:
        ctx._seed, ctx._rng = seed, random.Random(seed)

    ctx._set_global_seed = set_global_seed  # shadows the method on this instance
    try:
        yield
    finally:
        del ctx._set_global_seed


def mark_jittable(layers: list) -> list:
    """Keras marks RandomTranslation and RandomZoom as not XLA-compilable (TensorFlow's image
    projective-transform op has no XLA kernel), which turns off jit for the whole model. Under JAX
    their transforms are plain jax.numpy (map_coordinates) and compile; without jit every training
    step would run op by op, ~6x slower than TensorFlow."""
    if name() == "jax":
        for layer in layers:
            layer.supports_jit = True
    return layers


def gpu_name() -> str | None:
    """The name of the first GPU this process trains on, or None on a CPU."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        if gpus := tf.config.list_physical_devices("GPU"):
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    elif backend == "jax":
        import jax

        if (device := jax.devices()[0]).platform != "cpu":
            return device.device_kind
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    return None


def library_version() -> tuple[str, str] | None:
    """(module, version) of the backend's own library, e.g. ('tensorflow', '2.21.0')."""
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(name())
    return (module, __import__(module).__version__) if module else None


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its oneDNN kernels here, as TensorFlow itself reports it (it turns
    them off on CPUs without AVX-512 whatever TF_ENABLE_ONEDNN_OPTS says); None under other backends."""
    if name() != "tensorflow":
        return None
    from tensorflow.python.util import _pywrap_util_port  # private: the only place TF says so

    return bool(_pywrap_util_port.IsMklEnabled())

"""A fresh, seeded Keras session for one training run: every random generator seeded from the
run's seed, deterministic ops, the thread count and dtype policy set. Used by the runner and by
pretraining; imports Keras only when called."""

from __future__ import annotations

from contextlib import nullcontext

from regbench.train.backend import configure_session, kernels_kept, start_backend


def seeded_keras(seed: int, threads: int | None, precision: str = "float32", xla: bool = False, clear: bool = True):
    """Keras with a fresh session (unless not `clear`: a kept compiled model is about to be
    restarted, train/compiled.py), every random generator seeded, deterministic TensorFlow ops,
    and `precision` as the dtype policy of the layers built next (reset for every cell of a worker)."""
    start_backend()
    import keras

    configure_session(threads, xla)
    if clear:
        keras.backend.clear_session()
    keras.config.set_dtype_policy(precision)
    with nullcontext() if clear else kernels_kept():  # a kept model's kernels stay warm
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

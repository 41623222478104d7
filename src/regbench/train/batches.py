"""What `fit` is fed: the train set as batches in an order that follows the cell's seed alone (so
every technique set of a seed sees the same batches), and the validation set. tf.data pipelines
under TensorFlow, a seeded generator under the other backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from regbench.train import backend

if TYPE_CHECKING:
    from regbench.grid.cell import Cell


def fit_inputs(keras, data, cell: Cell, weights: dict[int, float] | None = None) -> tuple[dict[str, Any], Any]:
    """(fit's data arguments, validation_data); `weights` per class (class_weight). An epochs
    budget reshuffles the train set each epoch; a steps budget draws an endless stream of full
    batches, a fresh permutation each pass (batches cross pass boundaries). Both orders come from
    the cell's seed alone, so every technique set of a seed sees the same batches. Under TensorFlow
    tf.data pipelines: Keras' own pipeline for numpy arrays costs ~19 ms per epoch and split to
    start (measured), which dominated small cells. Other backends: a generator (Keras would shuffle
    arrays with numpy's global random state, which model building may have drawn from), with the
    class weights as sample weights (Keras takes no class_weight with a generator)."""
    x, y, size = data.x_train, data.y_train, cell.batch_size
    if not backend.feeds_tf_data():
        batches = shuffled_batches(x, y, size, cell.seed, whole_passes=not cell.steps, weights=weights)
        return {"x": batches, "shuffle": False, "steps_per_epoch": cell.steps_per_evaluation}, (data.x_val, data.y_val)
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=cell.seed, reshuffle_each_iteration=True)
    train = train.repeat().batch(size) if cell.steps else train.batch(size)
    val = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(size)
    # Batches are made ahead in tf.data's threads while the device trains (order unchanged).
    train, val = train.prefetch(tf.data.AUTOTUNE), val.prefetch(tf.data.AUTOTUNE)
    # Shuffled above (Keras warns about shuffle=True). A steps budget: each Keras "epoch" is one
    # evaluation interval of the endless stream; an epochs budget: the finite dataset once.
    steps = cell.eval_every if cell.steps else None
    return {"x": train, "shuffle": False, "steps_per_epoch": steps, "class_weight": weights}, val


def shuffled_batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, whole_passes: bool, weights: dict[int, float] | None
) -> Iterator[tuple[np.ndarray, ...]]:
    """(x, y) batches, or (x, y, sample weights) given class weights, from a fresh permutation of
    the train set each pass, forever (backends without tf.data). whole_passes (an epochs budget):
    each pass ends with its smaller last batch; otherwise (a steps budget) batches are always full
    and cross pass boundaries."""
    per_example = None if weights is None else np.array([weights[c] for c in y.reshape(-1)], dtype="float32")

    def batch_of(index: np.ndarray) -> tuple[np.ndarray, ...]:
        return (x[index], y[index]) if per_example is None else (x[index], y[index], per_example[index])

    rng = np.random.default_rng(seed)
    if whole_passes:
        while True:
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                yield batch_of(order[start : start + batch_size])
    order = np.empty(0, dtype=np.int64)
    while True:
        while len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(len(x))])
        index, order = order[:batch_size], order[batch_size:]
        yield batch_of(index)


def steps_per_call(cell: Cell) -> int:
    """Optimizer steps per compiled call: 32 cuts per-step Python overhead on tiny data (the
    numbers are unchanged). A divisor of the steps between evaluations wherever batches come from
    an endless stream (a steps budget; every budget outside TensorFlow), since Keras then runs
    whole calls and would overshoot the evaluation interval (TensorFlow ends a call at the end of a
    finite dataset)."""
    if not cell.steps and backend.feeds_tf_data():
        return 32
    return max(d for d in range(1, 33) if cell.steps_per_evaluation % d == 0)

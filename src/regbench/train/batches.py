"""What `fit` is fed: the train set as batches in an order that follows the cell's seed alone (so
every technique set of a seed sees the same batches), and the validation set. tf.data pipelines
under TensorFlow, a seeded generator under the other backends."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from regbench.train import backend

if TYPE_CHECKING:
    from regbench.train.described_run import DescribedRun


def fit_inputs(
    keras, data, cell: DescribedRun, weights: dict[int, float] | None = None, eval_batch: int | None = None
) -> tuple[dict[str, Any], Any]:
    """(fit's data arguments, validation_data); `weights` per class (class_weight); validation
    in batches of `eval_batch` (default: the cell's batch size), as `evaluation_data` makes them,
    so that a validation pass and a clean pass at the same weights give the same numbers. An
    epochs budget reshuffles the train set each epoch; a steps budget draws an endless stream of
    full batches, a fresh permutation each pass (batches cross pass boundaries). Both orders come
    from the cell's seed alone, so every technique set of a seed sees the same batches. Under
    TensorFlow tf.data pipelines: Keras' own pipeline for numpy arrays costs ~19 ms per epoch and
    split to start (measured), which dominated small cells. Other backends: a generator (Keras
    would shuffle arrays with numpy's global random state, which model building may have drawn
    from), with the class weights as sample weights (Keras takes no class_weight with a generator)."""
    x, y, size = data.x_train, data.y_train, cell.batch_size
    val = evaluation_data(data.x_val, data.y_val, eval_batch or size)
    if not backend.feeds_tf_data():
        batches = shuffled_batches(x, y, size, cell.seed, whole_passes=not cell.steps, weights=weights)
        fit_args = {"x": batches, "shuffle": False, "steps_per_epoch": cell.steps_per_evaluation}
        return fit_args | {"validation_batch_size": val["batch_size"]}, (val["x"], val["y"])
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=cell.seed, reshuffle_each_iteration=True)
    train = train.repeat().batch(size) if cell.steps else train.batch(size)
    # Batches are made ahead in tf.data's threads while the device trains (order unchanged); a
    # fixed buffer: autotuning is off (without_autotune).
    train = without_autotune(train.prefetch(2))
    # Shuffled above (Keras warns about shuffle=True). A steps budget: each Keras "epoch" is one
    # evaluation interval of the endless stream; an epochs budget: the finite dataset once.
    steps = cell.eval_every if cell.steps else None
    return {"x": train, "shuffle": False, "steps_per_epoch": steps, "class_weight": weights}, val["x"]


def evaluation_data(x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, Any]:
    """model.evaluate's data arguments for one pass over (x, y) in order, `batch_size` examples a
    batch: a tf.data pipeline under TensorFlow (Keras' pipeline for numpy arrays costs ~0.15 s a
    pass to start, a prebuilt one ~0.03 s: measured on digits), the arrays elsewhere."""
    if not backend.feeds_tf_data():
        return {"x": x, "y": y, "batch_size": batch_size}
    import tensorflow as tf

    return {"x": without_autotune(tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size))}


def without_autotune(dataset: Any) -> Any:
    """The tf.data pipeline with autotuning off. Its tuning thread sleeps for a period that
    doubles from 10 ms to 60 s, and an iterator's destructor waits for it to wake: fit returned
    only at the next of 1.3, 2.6, 5.1, ... s after it started, whenever training had ended (28-56 s
    late in Fashion-MNIST cells), and the thread's work competed with training on a worker of one
    thread. Measured (benchmarks/pipeline_stall.py): 256 cells of quick with --jobs 2, 409 s -> 277 s,
    records identical. The pipelines are a shuffle, batching and a prefetch: nothing to tune."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def evaluation_batch_size(model: Any, batch_size: int) -> int:
    """Examples per batch of an evaluation pass (validation during training, the final clean
    passes): at least the training batch, up to 1024 while the model's widest activation stays
    within 2**24 values (64 MiB in float32) per batch. Fewer, larger batches cut a pass's
    per-call overhead (a 200-example split at 32: 7 calls; at 1024: 1); a batch larger than the
    split is the split. Summed losses round differently at another batch size (float32 rounding
    level); accuracies are counts and do not change."""
    return max(batch_size, min(1024, 2**24 // max(1, widest_activation(model))))


def widest_activation(model: Any) -> int:
    """The most values one example has at any layer's output, nested models' layers included."""
    widest = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):
            widest = max(widest, widest_activation(layer))
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # a layer never called in a graph has no output
            continue
        widest = max(widest, math.prod(d for d in shape[1:] if d is not None))
    return widest


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


def steps_per_call(cell: DescribedRun) -> int:
    """Optimizer steps per compiled call: 32 cuts per-step Python overhead on tiny data (the
    numbers are unchanged). A divisor of the steps between evaluations wherever batches come from
    an endless stream (a steps budget; every budget outside TensorFlow), since Keras then runs
    whole calls and would overshoot the evaluation interval (TensorFlow ends a call at the end of a
    finite dataset)."""
    if not cell.steps and backend.feeds_tf_data():
        return 32
    return max(d for d in range(1, 33) if cell.steps_per_evaluation % d == 0)

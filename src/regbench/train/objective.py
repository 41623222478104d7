"""What a cell optimizes: its optimizer (with the set's optimizer arguments), the (smoothed)
cross-entropy, and the metrics every record holds, compiled into the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regbench.train import backend
from regbench.train.batches import steps_per_call
from regbench.train.hooks import SetHooks

if TYPE_CHECKING:
    from regbench.train.described_run import DescribedRun


def compile_model(
    keras, model, cell: DescribedRun, hooks: SetHooks, info, learning_rate: float, xla: bool = False
) -> None:
    """Compile with the cell's optimizer at `learning_rate`, the (smoothed) cross-entropy, and
    the metrics every record holds: accuracy and xent; XLA as backend.jit_compile decides."""
    binary = info.num_classes == 2
    xent = keras.metrics.BinaryCrossentropy if binary else keras.metrics.SparseCategoricalCrossentropy
    model.compile(
        optimizer=make_optimizer(keras, cell, hooks, learning_rate),
        loss=make_loss(keras, info.num_classes, hooks.label_smoothing),
        # "xent" is the data loss alone; Keras' "loss" also holds the kernel penalties.
        metrics=["accuracy", xent(name="xent")],
        steps_per_execution=steps_per_call(cell),
        jit_compile=backend.jit_compile(xla),
    )


def make_optimizer(keras, cell: DescribedRun, hooks: SetHooks, learning_rate: float | None = None) -> Any:
    """The cell's optimizer with the set's arguments (e.g. decoupled weight_decay), at the
    cell's learning rate unless another is given (a fine-tuning phase)."""
    extra = hooks.optimizer_kwargs
    lr = cell.learning_rate if learning_rate is None else learning_rate
    if cell.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=cell.momentum or 0.0, **extra)
    if cell.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, momentum=cell.momentum or 0.0, **extra)
    return keras.optimizers.Adam(learning_rate=lr, **extra)


def make_loss(keras, num_classes: int, smoothing: float) -> Any:
    """Cross-entropy on integer labels, with targets smoothed by `smoothing` when it is > 0."""
    if num_classes == 2:
        return keras.losses.BinaryCrossentropy(label_smoothing=smoothing)
    if not smoothing:
        return keras.losses.SparseCategoricalCrossentropy()

    # Keras' sparse cross-entropy has no label smoothing: one-hot the labels, then smooth.
    def smoothed_crossentropy(y_true, y_pred):
        one_hot = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), num_classes)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=smoothing)

    return smoothed_crossentropy

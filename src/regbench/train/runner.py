"""run_cell(cell) -> result: the only place that trains. One cell = one seeded training run."""

from __future__ import annotations

import statistics
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from regbench.errors import UsageError
from regbench.result import Result
from regbench.train import datasets, models
from regbench.train.backend import start_backend
from regbench.train.environment import environment
from regbench.train.options import RunOptions
from regbench.train.seeding import seeded_keras
from regbench.train.techniques import Context

if TYPE_CHECKING:  # the runner trains any cell-like value; it never needs the grid stage itself
    from regbench.grid.cell import Cell


def run_cell(cell: Cell, options: RunOptions = RunOptions()) -> Result:
    """Train one cell and return its Result (status 'ok' or 'failed', never raises for a training
    error; missing data raises UsageError). Running out of memory fails the cell with an error
    starting "out of memory"."""
    start = time.perf_counter()
    record = empty_record(cell, options)
    try:
        record = record.but(**train(cell, options))
    except UsageError:
        raise
    except Exception as exc:  # any training error is a result: the grid goes on
        last = traceback.extract_tb(exc.__traceback__)[-1]
        error = f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:{last.lineno})"
        record = record.but(status="failed", error=f"out of memory: {error}" if is_out_of_memory(exc) else error)
        free_memory()
    return record.but(wall_time_s=round(time.perf_counter() - start, 3), **environment())


def empty_record(cell: Cell, options: RunOptions, status: str = "ok", error: str | None = None) -> Result:
    """A record with the cell and no results: what a cell that failed before training holds."""
    numerics = {"dtype_policy": options.precision, "jit_compile": options.xla}
    return Result(cell.cell_id, cell.slug, cell.canonical(), status, error, numerics=numerics)


class Fitted(NamedTuple):
    """A trained cell, before its record is made (tests inspect `model` and `data`)."""

    model: Any
    data: Any  # the datasets.Splits it was trained and scored on
    techniques: list[Any]
    history: dict[str, list[float]]  # Keras' history over every phase, one value per evaluation
    eval_steps: list[int]  # optimizer steps done at each evaluation
    steps_run: int  # as the optimizer counted them
    callbacks: dict[str, list[Any]]  # each technique's callbacks of the last phase
    clock: Any  # epoch_clock: seconds and learning rate per evaluation interval
    best_val: Any  # best_validation: the weights of the best validation accuracy
    setup: dict[str, Any]  # facts of the techniques' set-up
    class_counts: list[int]  # training examples per class


def train(cell: Cell, options: RunOptions) -> dict[str, Any]:
    """The Result fields of a training run (everything but the cell and where it ran)."""
    return record_fields(cell, fit_cell(cell, options))


def fit_cell(cell: Cell, options: RunOptions = RunOptions()) -> Fitted:
    """Load the cell's data, set up, seed, build, compile and fit it (with a fine-tuning phase
    where a technique asks for one)."""
    start_backend()  # before anything (a dataset download, an ImageNet network) imports Keras
    info = datasets.get_dataset(cell.dataset)
    data = datasets.load(
        cell.dataset, cell.train_size, cell.val_size, cell.split_seed, options.data_dir, options.offline, cell.imbalance
    )
    class_counts = np.bincount(data.y_train.reshape(-1), minlength=info.num_classes).tolist()
    if info.num_classes == 2:  # one sigmoid unit: labels of shape (N, 1), like the output
        data = data._replace(**{k: getattr(data, k).reshape(-1, 1) for k in ("y_train", "y_val", "y_test")})
    techniques = cell.technique_objects()
    context = Context(cell, info, options, models.build)
    # Set-up (e.g. pretraining a backbone) comes before seeding, so that the cell's random streams
    # are the same whether a backbone was trained now or read from the cache.
    setup = {t.name: notes for t in techniques if (notes := t.setup(context))}
    keras = seeded_keras(cell.seed, options.threads, options.precision, options.xla)
    model = models.build(cell.model, info.input_shape, info.num_classes, techniques, dataset=info, seed=cell.seed)
    for technique in techniques:
        technique.prepare(model, context)
    per_eval = cell.steps_per_evaluation
    compile_model(keras, model, cell, techniques, info, cell.learning_rate, options.xla)
    clock, best_val = epoch_clock(keras), best_validation(keras)
    weights = class_weight(techniques, data.y_train, info.num_classes)
    train_data, val_data = fit_inputs(keras, data, cell, weights)
    last_callbacks: dict[str, list[Any]] = {}  # each technique's callbacks of the last phase
    steps_done = []  # optimizer steps of each phase, as the optimizer counted them

    def fit(initial_epoch: int, epochs: int) -> dict[str, list[float]]:
        last_callbacks.update({t.name: t.callbacks() for t in techniques})
        callbacks = [cb for cbs in last_callbacks.values() for cb in cbs]
        history = model.fit(
            **train_data, validation_data=val_data, initial_epoch=initial_epoch, epochs=epochs,
            callbacks=[*callbacks, keras.callbacks.TerminateOnNaN(), clock, best_val], verbose=options.verbose,
        ).history  # fmt: skip
        steps_done.append(int(keras.ops.convert_to_numpy(model.optimizer.iterations)))
        return history

    history = fit(0, cell.epochs if cell.steps is None else cell.steps // cell.eval_every)
    for extra_epochs, factor in (plan for t in techniques if (plan := t.fine_tune())):
        # Second phase (transfer): every layer trainable, a smaller learning rate, fresh callbacks;
        # under a steps budget as many evaluation intervals as cover `extra_epochs` passes.
        model.trainable = True
        compile_model(keras, model, cell, techniques, info, cell.learning_rate * factor, options.xla)
        done = len(history["loss"])
        more = fit(done, done + -(-extra_epochs * cell.steps_per_epoch // per_eval))
        history = {key: history[key] + more.get(key, []) for key in history}
    eval_steps = [per_eval * (i + 1) for i in range(len(history["loss"]))]
    return Fitted(model, data, techniques, history, eval_steps, sum(steps_done), last_callbacks, clock, best_val,
                  setup, class_counts)  # fmt: skip


def record_fields(cell: Cell, f: Fitted) -> dict[str, Any]:
    """The Result fields of a fitted cell: history, the clean evaluation of each split, the gaps,
    the best evaluation, test accuracy at the best validation accuracy, and triggers."""
    model, data, history, eval_steps = f.model, f.data, f.history, f.eval_steps
    out: dict[str, Any] = {
        "history": split_history(history, f.clock), "eval_steps": eval_steps, "params": int(model.count_params()),
        "epochs_run": len(eval_steps) if cell.steps is None else round(eval_steps[-1] / cell.steps_per_epoch, 2),
        "steps_run": f.steps_run,
        "time_per_epoch_s": round(statistics.median(f.clock.seconds), 4) if f.clock.seconds else None,
        "train_class_counts": f.class_counts, "setup": f.setup,
        "mechanisms": {
            t.name: facts for t in f.techniques if (facts := t.engagement(f.callbacks[t.name], eval_steps))
        },
        "numerics": {"dtype_policy": model.dtype_policy.name, "jit_compile": bool(model.jit_compile)},
    }  # fmt: skip
    if not np.all(np.isfinite(history["loss"])):
        bad = int(np.argmin(np.isfinite(history["loss"])))
        return out | {
            "status": "failed",
            "error": f"loss became NaN by step {eval_steps[bad]} (TerminateOnNaN); learning rate {cell.learning_rate} too high?",
        }
    splits = (
        ("train", data.x_train, data.y_train),
        ("val", data.x_val, data.y_val),
        ("test", data.x_test, data.y_test),
    )
    final = {split: clean_eval(model, x, y, cell.batch_size) for split, x, y in splits}
    monitor = next((t.monitor for t in f.techniques if t.picks_best_epoch), "val_loss")
    curve = history[monitor]
    best = int(np.argmax(curve) if monitor.endswith("accuracy") else np.argmin(curve)) + 1
    gap = {
        "accuracy": final["train"]["accuracy"] - final["test"]["accuracy"],
        "loss": final["test"]["loss"] - final["train"]["loss"],
    }
    at_best_val = None
    if f.best_val.weights is not None:  # test accuracy where validation accuracy peaked
        model.set_weights(f.best_val.weights)
        at_best_val = {"step": eval_steps[f.best_val.index]} | {
            split: clean_eval(model, x, y, cell.batch_size) for split, x, y in splits[1:]
        }
    return out | {
        "final": final,
        "gap": gap,
        "best_epoch": best,
        "best_step": eval_steps[best - 1],
        "at_best_val": at_best_val,
    }


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
    if keras.backend.backend() != "tensorflow":
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


def steps_per_call(cell: Cell, backend: str) -> int:
    """Optimizer steps per compiled call: 32 cuts per-step Python overhead on tiny data (the
    numbers are unchanged). A divisor of the steps between evaluations wherever batches come from
    an endless stream (a steps budget; every budget outside TensorFlow), since Keras then runs
    whole calls and would overshoot the evaluation interval (TensorFlow ends a call at the end of a
    finite dataset)."""
    if not cell.steps and backend == "tensorflow":
        return 32
    return max(d for d in range(1, 33) if cell.steps_per_evaluation % d == 0)


def compile_model(keras, model, cell: Cell, techniques: list, info, learning_rate: float, xla: bool = False) -> None:
    """Compile with the cell's optimizer at `learning_rate`, the (smoothed) cross-entropy, and
    the metrics every record holds: accuracy and xent. XLA only when asked: Keras' "auto" would
    turn it on for TensorFlow on a GPU, and it changes the numbers. JAX always compiles with XLA."""
    binary = info.num_classes == 2
    xent = keras.metrics.BinaryCrossentropy if binary else keras.metrics.SparseCategoricalCrossentropy
    model.compile(
        optimizer=make_optimizer(keras, cell, techniques, learning_rate),
        loss=make_loss(keras, info.num_classes, sum(t.label_smoothing() for t in techniques)),
        # "xent" is the data loss alone; Keras' "loss" also holds the kernel penalties.
        metrics=["accuracy", xent(name="xent")],
        steps_per_execution=steps_per_call(cell, keras.backend.backend()),
        jit_compile=True if xla or keras.backend.backend() == "jax" else False,
    )


def is_out_of_memory(exc: BaseException) -> bool:
    """TensorFlow's ResourceExhaustedError, XLA's RESOURCE_EXHAUSTED (JAX), torch's OutOfMemoryError."""
    text = f"{type(exc).__name__} {exc}"
    return any(mark in text for mark in ("ResourceExhausted", "RESOURCE_EXHAUSTED", "OutOfMemory", "out of memory"))


def free_memory() -> None:
    """After a failed cell, drop its model and graphs so the next cell of this worker starts clean."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def make_optimizer(keras, cell: Cell, techniques: list, learning_rate: float | None = None) -> Any:
    """The cell's optimizer with the techniques' arguments (e.g. decoupled weight_decay), at the
    cell's learning rate unless another is given (a fine-tuning phase)."""
    extra = {k: v for t in techniques for k, v in t.optimizer_kwargs().items()}
    lr = cell.learning_rate if learning_rate is None else learning_rate
    if cell.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=cell.momentum or 0.0, **extra)
    if cell.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, momentum=cell.momentum or 0.0, **extra)
    return keras.optimizers.Adam(learning_rate=lr, **extra)


def class_weight(techniques: list, y_train: np.ndarray, num_classes: int) -> dict[int, float] | None:
    """The product of the techniques' class weights, or None when no technique weights classes."""
    found = [w for t in techniques if (w := t.class_weight(y_train, num_classes)) is not None]
    if not found:
        return None
    return {c: float(np.prod([w[c] for w in found])) for c in range(num_classes)}


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


def clean_eval(model, x, y, batch_size: int) -> dict[str, float]:
    """Loss (data cross-entropy), accuracy and objective (loss + penalties) in inference mode:
    no dropout, no augmentation, batch norm with its moving statistics."""
    scores = model.evaluate(x, y, batch_size=max(batch_size, 256), verbose=0, return_dict=True)
    return {"loss": float(scores["xent"]), "accuracy": float(scores["accuracy"]), "objective": float(scores["loss"])}


def epoch_clock(keras):
    class EpochClock(keras.callbacks.Callback):
        """Records each epoch's wall time (s) and the learning rate in force at its end."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.learning_rates: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            lr = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            self.learning_rates.append(float(lr))

    return EpochClock()


def best_validation(keras):
    class BestValidation(keras.callbacks.Callback):
        """Keeps a copy of the weights at the evaluation with the best validation accuracy (the
        first of equals) across every phase of a run, and that evaluation's 0-based index."""

        def __init__(self) -> None:
            super().__init__()
            self.best, self.index, self.weights = -np.inf, None, None

        def on_epoch_end(self, epoch, logs=None):
            accuracy = (logs or {}).get("val_accuracy")
            if accuracy is not None and accuracy > self.best:
                self.best, self.index, self.weights = accuracy, epoch, self.model.get_weights()

    return BestValidation()


def split_history(history: dict[str, list[float]], clock) -> dict[str, dict[str, list[float]]]:
    """Keras' history {"loss": [...], "val_loss": [...], ...} -> {split: {metric: [value per epoch]}},
    splits train and val; train also holds learning_rate and epoch_time_s (s)."""
    out: dict[str, dict[str, list[float]]] = {"train": {}, "val": {}}
    for key, values in sorted(history.items()):
        split, metric = ("val", key[4:]) if key.startswith("val_") else ("train", key)
        out[split][metric] = [float(v) for v in values]
    out["train"]["learning_rate"] = list(clock.learning_rates)
    out["train"]["epoch_time_s"] = [round(v, 6) for v in clock.seconds]
    return out

"""run_cell(cell) -> result: the only place that trains a cell (pretrained.py trains the source
backbones a transfer cell starts from). One cell = one seeded training run."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from regbench.errors import UsageError
from regbench.records.result import Result
from regbench.train import compiled, datasets, models
from regbench.train.backend import start_backend
from regbench.train.batches import evaluation_batch_size, fit_inputs
from regbench.train.environment import environment
from regbench.train.hooks import SetHooks
from regbench.train.objective import compile_model
from regbench.train.options import RunOptions
from regbench.train.recording import Fitted, best_validation, end_weights, epoch_clock, progress, record_fields
from regbench.train.seeding import seeded_keras
from regbench.train.techniques import Context

if TYPE_CHECKING:
    from regbench.train.described_run import DescribedRun


def run_cell(cell: DescribedRun, options: RunOptions = RunOptions()) -> Result:
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


def empty_record(cell: DescribedRun, options: RunOptions, status: str = "ok", error: str | None = None) -> Result:
    """A record with the cell and no results: what a cell that failed before training holds."""
    numerics = {"dtype_policy": options.precision, "jit_compile": options.xla}
    tuned = {name: list(params) for name, params in cell.tuned}
    return Result(cell.cell_id, cell.slug, cell.canonical(), status, error, numerics=numerics, tuned=tuned)


def train(cell: DescribedRun, options: RunOptions) -> dict[str, Any]:
    """The Result fields of a training run (everything but the cell and where it ran)."""
    return record_fields(cell, fit_cell(cell, options))


def fit_cell(cell: DescribedRun, options: RunOptions = RunOptions()) -> Fitted:
    """Load the cell's data, set up, seed, build, compile (or restart a compiled model this worker
    keeps: train/compiled.py) and fit it (with a fine-tuning phase where a technique asks for one)."""
    started = time.perf_counter()
    start_backend()  # before anything (a dataset download, an ImageNet network) imports Keras
    info = datasets.get_dataset(cell.dataset)
    data, class_counts = load_data(cell, info, options)
    hooks = SetHooks.of(cell.technique_objects())
    context = Context(cell, info, options, models.build)
    # Set-up (e.g. pretraining a backbone) comes before seeding, so that the cell's random streams
    # are the same whether a backbone was trained now or read from the cache.
    setup = {t.name: notes for t in hooks.techniques if (notes := t.setup(context))}
    # A kept model's session stays: clearing it empties TensorFlow's kernel cache, and the kept
    # model's next call would pay ~1.4 s to fill it again (the numbers do not depend on it).
    kept = compiled.kept_for(cell, options)
    keras = seeded_keras(cell.seed, options.threads, options.precision, options.xla, clear=not kept)
    model = models.build(cell.model, info.input_shape, info.num_classes, hooks, dataset=info, seed=cell.seed)
    for technique in hooks.techniques:
        technique.prepare(model, context)
    model, reused = compiled.ready(keras, model, cell, hooks, info, options)
    per_eval, eval_batch = cell.steps_per_evaluation, evaluation_batch_size(model, cell.batch_size)
    clock, best_val, end = epoch_clock(keras), best_validation(keras), end_weights(keras)
    weights = hooks.class_weights(data.y_train, info.num_classes)
    train_data, val_data = fit_inputs(keras, data, cell, weights, eval_batch)
    last_callbacks: dict[str, list[Any]] = {}  # each technique's callbacks of the last phase
    steps_done = []  # optimizer steps of each phase, as the optimizer counted them
    seconds = {"setup": time.perf_counter() - started, "fit": 0.0}

    def fit(initial_epoch: int, epochs: int) -> dict[str, list[float]]:
        last_callbacks.update(hooks.callbacks())
        callbacks = [cb for cbs in last_callbacks.values() for cb in cbs]
        fit_start = time.perf_counter()
        history = model.fit(
            **train_data, validation_data=val_data, initial_epoch=initial_epoch, epochs=epochs, verbose=0,
            callbacks=[end, *callbacks, keras.callbacks.TerminateOnNaN(), clock, best_val, *progress(keras, cell, options)],
        ).history  # fmt: skip
        seconds["fit"] += time.perf_counter() - fit_start
        steps_done.append(int(keras.ops.convert_to_numpy(model.optimizer.iterations)))
        return history

    history = fit(0, cell.epochs if cell.steps is None else cell.steps // cell.eval_every)
    for extra_epochs, factor in hooks.fine_tune_phases():
        # Second phase (transfer): every layer trainable, a smaller learning rate, fresh callbacks;
        # under a steps budget as many evaluation intervals as cover `extra_epochs` passes.
        model.trainable = True
        compile_model(keras, model, cell, hooks, info, cell.learning_rate * factor, options.xla)
        done = len(history["loss"])
        more = fit(done, done + -(-extra_epochs * cell.steps_per_epoch // per_eval))
        history = {key: history[key] + more.get(key, []) for key in history}
    eval_steps = [per_eval * (i + 1) for i in range(len(history["loss"]))]
    return Fitted(model, data, hooks, history, eval_steps, sum(steps_done), last_callbacks, clock, best_val,
                  setup, class_counts, end, eval_batch, seconds["setup"], seconds["fit"], reused)  # fmt: skip


def load_data(cell: DescribedRun, info: Any, options: RunOptions) -> tuple[Any, list[int]]:
    """(the cell's splits, training examples per class); two classes: labels of shape (N, 1),
    like the one sigmoid unit that predicts them."""
    data = datasets.load(
        cell.dataset, cell.train_size, cell.val_size, cell.split_seed, options.data_dir, options.offline, cell.imbalance
    )
    class_counts = np.bincount(data.y_train.reshape(-1), minlength=info.num_classes).tolist()
    if info.num_classes == 2:
        data = data._replace(**{k: getattr(data, k).reshape(-1, 1) for k in ("y_train", "y_val", "y_test")})
    return data, class_counts


def is_out_of_memory(exc: BaseException) -> bool:
    """TensorFlow's ResourceExhaustedError, XLA's RESOURCE_EXHAUSTED (JAX), torch's OutOfMemoryError."""
    text = f"{type(exc).__name__} {exc}"
    return any(mark in text for mark in ("ResourceExhausted", "RESOURCE_EXHAUSTED", "OutOfMemory", "out of memory"))


def free_memory() -> None:
    """After a failed cell, drop its model, the kept compiled models and graphs, so that the next
    cell of this worker starts clean."""
    import gc

    import keras

    compiled.forget()
    keras.backend.clear_session()
    gc.collect()

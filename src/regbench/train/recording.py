"""What a training run leaves in its record: each evaluation's time and learning rate, the weights
of the best validation accuracy, the clean evaluation of every split, the gaps and the best
evaluation, and whether techniques with a trigger engaged."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from regbench.train.hooks import SetHooks

if TYPE_CHECKING:
    from regbench.grid.cell import Cell


class Fitted(NamedTuple):
    """A trained cell, before its record is made (tests inspect `model` and `data`)."""

    model: Any
    data: Any  # the datasets.Splits it was trained and scored on
    hooks: SetHooks  # the technique set's combined hooks
    history: dict[str, list[float]]  # Keras' history over every phase, one value per evaluation
    eval_steps: list[int]  # optimizer steps done at each evaluation
    steps_run: int  # as the optimizer counted them
    callbacks: dict[str, list[Any]]  # each technique's callbacks of the last phase
    clock: Any  # epoch_clock: seconds and learning rate per evaluation interval
    best_val: Any  # best_validation: the weights of the best validation accuracy
    setup: dict[str, Any]  # facts of the techniques' set-up
    class_counts: list[int]  # training examples per class


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
            t.name: facts for t in f.hooks.techniques if (facts := t.engagement(f.callbacks[t.name], eval_steps))
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
    monitor = f.hooks.monitor
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


def progress(keras, cell: Cell, options) -> list:
    """With `options.verbose`, a callback printing one line per evaluation: the optimizer step of
    the budget (or the epoch), train and validation loss and accuracy, and the learning rate."""
    if not options.verbose:
        return []

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            done = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            where = (
                f"step {done:>6}/{cell.total_steps}" if cell.steps else f"epoch {epoch + 1}/{cell.epochs} (step {done})"
            )
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            scores = "  ".join(
                f"{k} {logs[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in logs
            )
            print(f"{where}  {scores}  lr {rate:.3g}", flush=True)

    return [Progress()]

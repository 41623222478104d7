"""What a training run leaves in its record: each evaluation's time and learning rate, the weights
of the best validation accuracy, the clean evaluation of every split, the gaps and the best
evaluation, and whether techniques with a trigger engaged."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from regbench.train.batches import evaluation_data
from regbench.train.hooks import SetHooks

if TYPE_CHECKING:
    from regbench.train.described_run import DescribedRun


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
    end: Any = None  # end_weights: the weights of the last evaluation, before any restore
    eval_batch: int = 256  # examples per batch of every evaluation pass (validation included)
    setup_s: float = 0.0  # seconds before the first fit: data, set-up, seeding, build, compile
    fit_s: float = 0.0  # seconds inside fit (every phase)
    reused: bool = False  # whether the compiled model was kept from an earlier cell


def record_fields(cell: DescribedRun, f: Fitted) -> dict[str, Any]:
    """The Result fields of a fitted cell: history, the clean evaluation of each split, the gaps,
    the best evaluation, test accuracy at the best validation accuracy, and triggers."""
    model, history, eval_steps = f.model, f.history, f.eval_steps
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
            "timing": timing(f, evaluate_s=0.0),
        }
    started = time.perf_counter()
    final, at_best_val = final_scores(f)
    monitor = f.hooks.monitor
    curve = history[monitor]
    best = int(np.argmax(curve) if monitor.endswith("accuracy") else np.argmin(curve)) + 1
    gap = {
        "accuracy": final["train"]["accuracy"] - final["test"]["accuracy"],
        "loss": final["test"]["loss"] - final["train"]["loss"],
    }
    return out | {
        "final": final,
        "gap": gap,
        "best_epoch": best,
        "best_step": eval_steps[best - 1],
        "at_best_val": at_best_val,
        "timing": timing(f, evaluate_s=time.perf_counter() - started),
    }


def final_scores(f: Fitted, share: bool = True) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(final, at_best_val): the clean scores of every split at the weights the run ends with,
    and the step, validation and test scores of the weights with the best validation accuracy
    (None when no evaluation had one). A validation pass during training is the clean pass of
    its weights (the same test step, batches and order), so with `share` the scores of weights an
    evaluation already saw are read from the history instead of a second pass: validation at
    the end (the last evaluation's or a restored one's weights) and at the best evaluation, and
    test at the best evaluation where those are the final weights. Leaves the model at the best
    validation accuracy's weights where they differ from the final ones."""
    model, data, history, batch = f.model, f.data, f.history, f.eval_batch

    def scored(split: str) -> dict[str, float]:
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        return clean_eval(model, x, y, batch)

    def seen(index: int) -> dict[str, float]:  # the validation pass after evaluation `index`
        return {"loss": history["val_xent"][index], "accuracy": history["val_accuracy"][index],
                "objective": history["val_loss"][index]}  # fmt: skip

    weights = model.get_weights()
    at_end = f.end.weights if f.end is not None else None
    ends = len(history["loss"]) - 1 if at_end is not None and same_weights(weights, at_end) else None
    best = f.best_val.weights
    if ends is None and best is not None and same_weights(weights, best):
        ends = f.best_val.index  # a technique restored the best validation accuracy's weights
    final = {"train": scored("train"), "val": seen(ends) if share and ends is not None else scored("val")}
    final["test"] = scored("test")
    if best is None:
        return final, None
    at_best_val = {"step": f.eval_steps[f.best_val.index], "val": seen(f.best_val.index) if share else None}
    if share and ends == f.best_val.index:
        return final, at_best_val | {"test": final["test"]}
    model.set_weights(best)
    return final, at_best_val | {"val": at_best_val["val"] or scored("val"), "test": scored("test")}


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Whether two get_weights() lists hold the same values, bit for bit."""
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def timing(f: Fitted, evaluate_s: float) -> dict[str, Any]:
    """Where a cell's seconds went (Result.timing). The first evaluation interval of a fresh model
    also traces and compiles its train and test steps: what it took above the median of the later
    intervals (training and validation apart), and fit's own start, are first_call_s; train_s and
    validate_s count the first interval at that median, so they are what the steps themselves cost
    (a fine-tuning phase's recompile counts as training). setup_s + first_call_s + train_s +
    validate_s + evaluate_s is the cell's wall time but for writing its record."""
    validate = list(f.clock.validation_seconds)
    train = [s - v for s, v in zip(f.clock.seconds, validate, strict=True)]

    def one_off(values: list[float]) -> float:
        return max(0.0, values[0] - statistics.median(values[1:])) if len(values) > 1 else 0.0

    extra_train, extra_val = one_off(train), one_off(validate)
    first_call = extra_train + extra_val + max(0.0, f.fit_s - sum(f.clock.seconds))
    return {
        "setup_s": round(f.setup_s, 4),
        "first_call_s": round(first_call, 4),
        "train_s": round(sum(train) - extra_train, 4),
        "validate_s": round(sum(validate) - extra_val, 4),
        "evaluate_s": round(evaluate_s, 4),
        "reused": f.reused,
    }


def clean_eval(model, x, y, batch_size: int) -> dict[str, float]:
    """Loss (data cross-entropy), accuracy and objective (loss + penalties) in inference mode:
    no dropout, no augmentation, batch norm with its moving statistics; `batch_size` examples a
    batch (batches.evaluation_batch_size: the validation passes' size)."""
    scores = model.evaluate(**evaluation_data(x, y, batch_size), verbose=0, return_dict=True)
    return {"loss": float(scores["xent"]), "accuracy": float(scores["accuracy"]), "objective": float(scores["loss"])}


def epoch_clock(keras):
    class EpochClock(keras.callbacks.Callback):
        """Records each epoch's wall time (s, its validation pass included), the seconds of that
        validation pass, and the learning rate in force at its end."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.validation_seconds: list[float] = []
            self.learning_rates: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start, self._validating = time.perf_counter(), 0.0

        def on_test_begin(self, logs=None):  # fit's validation pass calls its callbacks
            self._test_start = time.perf_counter()

        def on_test_end(self, logs=None):
            self._validating += time.perf_counter() - self._test_start

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            self.validation_seconds.append(self._validating)
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


def end_weights(keras):
    class EndWeights(keras.callbacks.Callback):
        """Keeps the weights training ends with, before any callback restores others: first in
        fit's callbacks, its on_train_end runs before theirs. Those are the last evaluation's."""

        def __init__(self) -> None:
            super().__init__()
            self.weights = None

        def on_train_end(self, logs=None):
            self.weights = self.model.get_weights()

    return EndWeights()


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


def progress(keras, cell: DescribedRun, options) -> list:
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

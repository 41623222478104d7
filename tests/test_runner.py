"""One cell, one seeded run: identical numbers twice, a full record, failures stored not raised."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from regbench.records.result import Result
from regbench.train.runner import run_cell
from tests.helpers import numbers, tiny_cell

pytestmark = pytest.mark.backend  # where the Keras backend matters: CI runs these under JAX as well


def test_same_cell_twice_gives_identical_numbers():
    cell = tiny_cell("digits", "small_cnn", {"dropout": {}, "batchnorm": {}}, epochs=3)
    assert numbers(run_cell(cell)) == numbers(run_cell(cell))


def test_other_seed_gives_other_numbers():
    assert numbers(run_cell(tiny_cell(seed=1)))["final"] != numbers(run_cell(tiny_cell(seed=2)))["final"]


def test_record_contents():
    record = run_cell(tiny_cell("moons", "mlp", {"l2": {}}, epochs=4))
    json.dumps(record.to_json())  # JSON-able
    assert Result.from_json(json.loads(json.dumps(record.to_json()))) == record  # and back
    assert record.status == "ok" and record.error is None and record.schema == 3
    assert record.cell["techniques"] == {"l2": {"factor": 0.001}}
    final = record.final
    assert set(final) == {"train", "val", "test"} and set(final["train"]) == {"loss", "accuracy", "objective"}
    assert record.gap["accuracy"] == final["train"]["accuracy"] - final["test"]["accuracy"]
    assert record.gap["loss"] == final["test"]["loss"] - final["train"]["loss"]
    history = record.history
    metrics = {(split, metric) for split, by_metric in history.items() for metric in by_metric}
    assert {
        ("train", "loss"),
        ("train", "accuracy"),
        ("val", "loss"),
        ("val", "accuracy"),
        ("train", "learning_rate"),
        ("train", "epoch_time_s"),
    } <= metrics
    assert {len(history[split][metric]) for split, metric in metrics} == {4}  # one value per epoch
    assert record.epochs_run == 4 and 1 <= record.best_epoch <= 4
    assert record.wall_time_s > 0 and record.time_per_epoch_s > 0
    timing = record.timing
    seconds = {"setup_s", "first_call_s", "train_s", "validate_s", "evaluate_s"}
    assert set(timing) == seconds | {"reused"} and all(timing[k] >= 0 for k in seconds)
    assert timing["train_s"] > 0 and sum(timing[k] for k in seconds) <= record.wall_time_s
    import keras

    assert record.device.startswith("CPU") and record.versions["backend"] == keras.backend.backend()


@pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="JAX's clipped cross-entropy saturates at a finite loss (~14.5) instead of NaN",
)
def test_nan_loss_is_a_failed_cell():
    record = run_cell(tiny_cell(optimizer="sgd", learning_rate=1e12, epochs=5))
    assert record.status == "failed" and "NaN" in record.error
    assert record.final is None and record.epochs_run >= 1


def test_exception_is_a_failed_cell(monkeypatch):
    from regbench.train import models

    def broken(*args, **kwargs):
        raise RuntimeError("a broken model (simulated)")

    monkeypatch.setattr(models, "build", broken)
    record = run_cell(tiny_cell())
    assert record.status == "failed" and record.error.startswith("RuntimeError: a broken model (simulated)")


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow", reason="TensorFlow's OOM error")
def test_running_out_of_gpu_memory_is_a_failed_cell_and_the_worker_goes_on(monkeypatch):
    import tensorflow as tf

    from regbench.train import compiled, runner

    real_inputs = runner.fit_inputs

    # Raised where a fresh and a kept compiled model both pass: once the model is compiled.
    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[4096,4096]")

    monkeypatch.setattr(runner, "fit_inputs", out_of_memory)
    record = run_cell(tiny_cell())
    assert record.status == "failed"
    assert record.error.startswith("out of memory: ResourceExhaustedError: OOM when allocating tensor")
    assert compiled.kept_count() == 0  # the worker let go of its compiled models too
    monkeypatch.setattr(runner, "fit_inputs", real_inputs)
    assert run_cell(tiny_cell()).ok


@pytest.mark.slow
def test_mixed_precision_and_xla_are_recorded_and_reset_for_the_next_cell():
    from regbench.train.options import RunOptions

    cell = tiny_cell("digits", "small_cnn", {"batchnorm": {}}, epochs=2)
    plain = run_cell(cell)
    assert plain.numerics == {"dtype_policy": "float32", "jit_compile": plain.versions["backend"] == "jax"}
    mixed = run_cell(cell, RunOptions(precision="mixed_bfloat16", xla=True))
    assert mixed.status == "ok" and mixed.numerics == {"dtype_policy": "mixed_bfloat16", "jit_compile": True}
    assert numbers(mixed)["final"] != numbers(plain)["final"]  # it changes the numbers: hence recorded
    assert numbers(run_cell(cell, RunOptions(precision="mixed_bfloat16", xla=True))) == numbers(mixed)
    assert numbers(run_cell(cell)) == numbers(plain)  # the next cell of the process is float32 again


@pytest.mark.parametrize("train_size", [20, 300])
def test_a_steps_budget_runs_exactly_its_steps_at_any_train_size(train_size):
    # 20 examples are less than one batch of 32; 300 are ten batches: 60 steps either way
    record = run_cell(tiny_cell(train_size=train_size, epochs=None, steps=60, eval_every=20))
    assert record.status == "ok", record.error
    assert record.steps_run == 60  # counted by the optimizer, not computed
    assert record.eval_steps == [20, 40, 60]
    assert record.epochs_run == round(60 / -(-train_size // 32), 2)


def test_eval_every_sets_the_history_length():
    record = run_cell(tiny_cell(epochs=None, steps=60, eval_every=5))
    history = record.history
    assert {len(v) for by_metric in history.values() for v in by_metric.values()} == {12}
    assert record.eval_steps == list(range(5, 61, 5)) and record.best_step % 5 == 0


def test_an_epochs_budget_records_a_step_per_epoch():
    record = run_cell(tiny_cell(train_size=100, epochs=3))  # 4 steps an epoch, the last batch of 4
    assert record.eval_steps == [4, 8, 12] and record.steps_run == 12


def test_early_stopping_records_where_it_stopped_and_what_it_restored():
    # min_delta 5: no evaluation ever counts as an improvement, so it stops after patience + 1
    stops = {"early_stopping": {"patience": 2, "min_delta": 5.0}}
    record = run_cell(tiny_cell(techniques=stops, epochs=None, steps=100, eval_every=10))
    assert record.mechanisms["early_stopping"] == {"triggered": True, "stopped_at_step": 30, "restored_step": 10}
    assert record.steps_run == 30 and record.eval_steps == [10, 20, 30]
    patient = run_cell(tiny_cell(techniques={"early_stopping": {"patience": 50}}, epochs=None, steps=40, eval_every=10))
    facts = patient.mechanisms["early_stopping"]
    assert facts["triggered"] is False and facts["stopped_at_step"] is None and patient.steps_run == 40


def test_reduce_lr_on_plateau_counts_its_reductions():
    never_better = {"reduce_lr_on_plateau": {"patience": 1, "min_delta": 5.0, "factor": 0.5}}
    record = run_cell(tiny_cell(techniques=never_better, epochs=None, steps=40, eval_every=10))
    facts = record.mechanisms["reduce_lr_on_plateau"]
    # Keras' plateau counter starts at the first evaluation; every later one is "no better"
    assert facts == {"triggered": True, "reductions": 3, "first_at_step": 20}
    rates = record.history["train"]["learning_rate"]
    assert rates == pytest.approx([1e-3, 5e-4, 2.5e-4, 1.25e-4])
    calm = run_cell(
        tiny_cell(techniques={"reduce_lr_on_plateau": {"patience": 50}}, epochs=None, steps=40, eval_every=10)
    )
    assert calm.mechanisms["reduce_lr_on_plateau"] == {"triggered": False, "reductions": 0, "first_at_step": None}


def test_best_checkpoint_restores_the_best_evaluation_and_says_whether_it_was_the_last():
    record = run_cell(
        tiny_cell(techniques={"best_checkpoint": {"monitor": "val_accuracy"}}, epochs=None, steps=60, eval_every=5)
    )
    facts, val = record.mechanisms["best_checkpoint"], record.history["val"]["accuracy"]
    best = int(np.argmax(val))  # Keras keeps the first of equal bests
    assert facts["restored_step"] == record.eval_steps[best] == record.best_step
    assert facts["triggered"] == (best < len(val) - 1)
    # the restored weights score what that evaluation scored
    assert record.final["val"]["accuracy"] == pytest.approx(val[best], abs=1e-6)


def test_test_accuracy_at_the_best_validation_evaluation():
    record = run_cell(tiny_cell(epochs=None, steps=60, eval_every=5))
    val = record.history["val"]["accuracy"]
    at_best = record.at_best_val
    assert at_best["step"] == record.eval_steps[int(np.argmax(val))]
    assert at_best["val"]["accuracy"] == pytest.approx(max(val), abs=1e-6)
    assert 0 < at_best["test"]["accuracy"] <= 1


def test_each_split_is_scored_on_its_own_data(monkeypatch):
    """Two far-apart blobs the model fits at once; the test split holds the same points with every
    label flipped, validation the same points as labelled. A run that scored one split on another's
    data (train on test, say) could not give train 1, validation 1, test 0."""
    from regbench.train import datasets
    from regbench.train.datasets.splits import Splits

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    x = (rng.normal(0, 0.1, (100, 2)) + 4 * y[:, None] - 2).astype("float32")
    monkeypatch.setattr(datasets, "load", lambda *args, **kwargs: Splits(x, y, x, y, x, 1 - y))
    record = run_cell(tiny_cell("moons", "mlp", epochs=None, steps=100, eval_every=50))
    final = record.final
    assert final["train"]["accuracy"] == 1.0 and final["val"]["accuracy"] == 1.0 and final["test"]["accuracy"] == 0.0
    assert record.gap["accuracy"] == 1.0 and record.gap["loss"] > 1.0  # test loss high, train loss low
    assert record.at_best_val["val"]["accuracy"] == 1.0 and record.at_best_val["test"]["accuracy"] == 0.0
    assert record.history["val"]["accuracy"][-1] == 1.0  # validation during training: the val split


@pytest.mark.parametrize(
    "techniques",
    [{}, {"early_stopping": {"patience": 1, "min_delta": 5.0}}, {"best_checkpoint": {"monitor": "val_accuracy"}}],
    ids=["ends_at_the_last", "restores_the_first", "restores_the_best_accuracy"],
)
def test_scores_read_from_the_validation_passes_are_those_of_a_clean_pass(techniques):
    """Final and best-validation scores taken from the passes training already made (no second
    pass) are the numbers a pass of their own gives, bit for bit."""
    from regbench.train.recording import final_scores
    from regbench.train.runner import fit_cell

    cell = tiny_cell(techniques=techniques, epochs=None, steps=60, eval_every=10, learning_rate=3e-3)
    assert final_scores(fit_cell(cell)) == final_scores(fit_cell(cell), share=False)

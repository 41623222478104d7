"""One cell, one seeded run: identical numbers twice, a full record, failures stored not raised."""

from __future__ import annotations

import json
import os

import pytest

from regbench.runner import run_cell
from tests.helpers import tiny_cell


def numbers(record: dict) -> dict:
    """Everything that must repeat exactly: metrics and history, not times or environment."""
    history = {
        split: {m: v for m, v in by_metric.items() if m != "epoch_time_s"}
        for split, by_metric in record["history"].items()
    }
    return {k: record[k] for k in ("final", "gap", "best_epoch", "epochs_run", "params")} | {"history": history}


def test_same_cell_twice_gives_identical_numbers():
    cell = tiny_cell("digits", "small_cnn", {"dropout": {}, "batchnorm": {}}, epochs=3)
    assert numbers(run_cell(cell)) == numbers(run_cell(cell))


def test_other_seed_gives_other_numbers():
    assert numbers(run_cell(tiny_cell(seed=1)))["final"] != numbers(run_cell(tiny_cell(seed=2)))["final"]


def test_record_contents():
    record = run_cell(tiny_cell("moons", "mlp", {"l2": {}}, epochs=4))
    json.dumps(record)  # JSON-able
    assert record["status"] == "ok" and record["error"] is None and record["schema"] == 2
    assert record["cell"]["techniques"] == {"l2": {"factor": 0.001}}
    final = record["final"]
    assert set(final) == {"train", "val", "test"} and set(final["train"]) == {"loss", "accuracy", "objective"}
    assert record["gap"]["accuracy"] == final["train"]["accuracy"] - final["test"]["accuracy"]
    assert record["gap"]["loss"] == final["test"]["loss"] - final["train"]["loss"]
    history = record["history"]
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
    assert record["epochs_run"] == 4 and 1 <= record["best_epoch"] <= 4
    assert record["wall_time_s"] > 0 and record["time_per_epoch_s"] > 0
    import keras

    assert record["device"].startswith("CPU") and record["versions"]["backend"] == keras.backend.backend()


@pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="JAX's clipped cross-entropy saturates at a finite loss (~14.5) instead of NaN",
)
def test_nan_loss_is_a_failed_cell():
    record = run_cell(tiny_cell(optimizer="sgd", learning_rate=1e12, epochs=5))
    assert record["status"] == "failed" and "NaN" in record["error"]
    assert record["final"] is None and record["epochs_run"] >= 1


def test_exception_is_a_failed_cell(monkeypatch):
    from regbench import models

    def broken(*args, **kwargs):
        raise RuntimeError("a broken model (simulated)")

    monkeypatch.setattr(models, "build", broken)
    record = run_cell(tiny_cell())
    assert record["status"] == "failed" and record["error"].startswith("RuntimeError: a broken model (simulated)")


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow", reason="TensorFlow's OOM error")
def test_running_out_of_gpu_memory_is_a_failed_cell_and_the_worker_goes_on(monkeypatch):
    import tensorflow as tf

    from regbench import runner

    real_compile = runner.compile_model

    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[4096,4096]")

    monkeypatch.setattr(runner, "compile_model", out_of_memory)
    record = run_cell(tiny_cell())
    assert record["status"] == "failed"
    assert record["error"].startswith("out of memory: ResourceExhaustedError: OOM when allocating tensor")
    monkeypatch.setattr(runner, "compile_model", real_compile)
    assert run_cell(tiny_cell())["status"] == "ok"


def test_mixed_precision_and_xla_are_recorded_and_reset_for_the_next_cell():
    from regbench.runner import RunOptions

    cell = tiny_cell("digits", "small_cnn", {"batchnorm": {}}, epochs=2)
    plain = run_cell(cell)
    assert plain["numerics"] == {"dtype_policy": "float32", "jit_compile": plain["versions"]["backend"] == "jax"}
    mixed = run_cell(cell, RunOptions(precision="mixed_bfloat16", xla=True))
    assert mixed["status"] == "ok" and mixed["numerics"] == {"dtype_policy": "mixed_bfloat16", "jit_compile": True}
    assert numbers(mixed)["final"] != numbers(plain)["final"]  # it changes the numbers: hence recorded
    assert numbers(run_cell(cell, RunOptions(precision="mixed_bfloat16", xla=True))) == numbers(mixed)
    assert numbers(run_cell(cell)) == numbers(plain)  # the next cell of the process is float32 again

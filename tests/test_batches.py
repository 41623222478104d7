"""The tf.data pipelines a cell is fed from: autotuning off in each (its tuning thread held fit's
return until it next woke, 1.3, 2.6, 5.1, ... s after fit started: benchmarks/pipeline_stall.py)."""

from __future__ import annotations

import numpy as np
import pytest

from regbench.train import backend
from regbench.train.batches import evaluation_data, fit_inputs
from regbench.train.datasets import load
from tests.helpers import tiny_cell

pytestmark = pytest.mark.skipif(not backend.feeds_tf_data(), reason="tf.data feeds fit under TensorFlow only")


@pytest.mark.parametrize("budget", [{"epochs": 2}, {"epochs": None, "steps": 20, "eval_every": 10}])
def test_the_train_and_validation_pipelines_are_not_autotuned(budget):
    import keras

    cell = tiny_cell(**budget)
    data = load(cell.dataset, cell.train_size, cell.val_size, cell.split_seed)
    train, validation = fit_inputs(keras, data, cell)
    assert train["x"].options().autotune.enabled is False
    assert validation.options().autotune.enabled is False


def test_an_evaluation_pass_is_not_autotuned_and_keeps_the_order():
    x, y = np.arange(10, dtype="float32").reshape(5, 2), np.arange(5)
    dataset = evaluation_data(x, y, batch_size=2)["x"]
    assert dataset.options().autotune.enabled is False
    assert np.concatenate([batch[1].numpy() for batch in dataset]).tolist() == [0, 1, 2, 3, 4]

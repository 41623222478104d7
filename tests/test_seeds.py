"""The cell seed controls each source of randomness, tested one at a time: the initial weights,
the dropout masks (with the weights held equal), the augmentation draws, and the order of the
batches; and two technique sets of one seed see the same batches (the comparison is paired)."""

from __future__ import annotations

import numpy as np
import pytest

from regbench.train import datasets, models
from regbench.train.batches import fit_inputs
from regbench.train.seeding import seeded_keras
from regbench.train.techniques import get_technique
from tests.helpers import tiny_cell

pytestmark = pytest.mark.backend  # where the Keras backend matters: CI runs these under JAX as well

INFO = datasets.get_dataset("digits")


def weights(seed: int) -> list[np.ndarray]:
    seeded_keras(seed, None)
    return models.build("small_cnn", INFO.input_shape, 10, [], dataset=INFO, seed=seed).get_weights()


def test_the_seed_sets_the_initial_weights():
    a, again, other = weights(1), weights(1), weights(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, again, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, other, strict=True))


def dropout_output(seed: int, fixed_weights: list[np.ndarray]) -> np.ndarray:
    """The training-mode output of a dropout model built under `seed`, with the same weights."""
    keras = seeded_keras(seed, None)
    model = models.build("mlp", INFO.input_shape, 10, [get_technique("dropout")(rate=0.5)], dataset=INFO, seed=seed)
    model.set_weights(fixed_weights)
    x = keras.ops.ones((8, 8, 8, 1))
    return np.asarray(model(x, training=True))


def test_the_seed_sets_the_dropout_masks_with_the_weights_held_equal():
    seeded_keras(1, None)
    fixed = models.build("mlp", INFO.input_shape, 10, [get_technique("dropout")()], dataset=INFO, seed=1).get_weights()
    a, again, other = dropout_output(1, fixed), dropout_output(1, fixed), dropout_output(2, fixed)
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(a, other)


def augmented(seed: int) -> np.ndarray:
    """Digits through the augmentation layers of a cell of `seed`, in training mode."""
    keras = seeded_keras(seed, None)
    x = keras.ops.convert_to_tensor(datasets.load("digits", 16, 16, 0, None, True).x_train)
    for layer in get_technique("augmentation")().input_layers(INFO, seed):
        x = layer(x, training=True)
    return np.asarray(x)


def test_the_seed_sets_the_augmentation_draws():
    # keras-team/keras#20378: layers without an explicit seed drew from a global stream under JAX.
    a, again, other = augmented(1), augmented(1), augmented(2)
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(a, other)


def batch_labels(cell, batches: int = 6) -> np.ndarray:
    """The labels of the first batches `fit` would see."""
    keras = seeded_keras(cell.seed, None)
    data = datasets.load("digits", cell.train_size, cell.val_size, cell.split_seed, None, True)
    train, _ = fit_inputs(keras, data, cell)
    return np.concatenate([np.asarray(y) for _, (x, y) in zip(range(batches), train["x"], strict=False)])


def test_the_seed_sets_the_batch_order_and_technique_sets_of_a_seed_share_it():
    for budget in ({"epochs": 3}, {"epochs": None, "steps": 30, "eval_every": 10}):
        plain = batch_labels(tiny_cell(seed=1, **budget))
        assert np.array_equal(plain, batch_labels(tiny_cell(seed=1, **budget)))
        # another technique set of the same seed: the same examples in the same order
        assert np.array_equal(plain, batch_labels(tiny_cell(seed=1, techniques={"l2": {}, "dropout": {}}, **budget)))
        assert not np.array_equal(plain, batch_labels(tiny_cell(seed=2, **budget)))

"""The cell seed controls each source of randomness, tested one at a time: the global seeds Keras
sets, the initial weights, the dropout masks (with the weights held equal), the augmentation
draws, and the order of the batches; two technique sets of one seed see the same batches (the
comparison is paired); batches reshuffle on every pass and, under a steps budget, cross pass
boundaries, on tf.data and on the generator other backends are fed from."""

from __future__ import annotations

import numpy as np
import pytest

from regbench.train import backend, datasets, models
from regbench.train.batches import fit_inputs
from regbench.train.datasets import Splits
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


def global_draws(seed: int) -> tuple:
    """A draw of each global generator (Python's, numpy's, TensorFlow's, Keras') after seeding a cell's session."""
    import random

    keras = seeded_keras(seed, None)
    draws = (random.random(), float(np.random.random()))
    if backend.feeds_tf_data():  # TensorFlow's global seed (tf.data's shuffles combine it with their own)
        import tensorflow as tf

        draws += (float(tf.random.uniform(())),)
    return draws + (float(keras.random.uniform(())),)


def test_the_cells_seed_reaches_the_global_seeds():
    one, again, two = global_draws(1), global_draws(1), global_draws(2)
    assert one == again
    assert all(a != b for a, b in zip(one, two, strict=True))  # each generator follows the seed


# 60 examples whose single feature is their index, in batches of 32: a pass is 1 7/8 batches.
NUMBERED = Splits(*(np.arange(60, dtype="float32").reshape(-1, 1), np.arange(60) % 10) * 3)


def stream(cell, batches: int, feeder: str, monkeypatch) -> list[np.ndarray]:
    """The example indices of the first `batches` batches `fit` is fed, from tf.data or the generator
    (each call a fresh iteration, as Keras makes one per epoch of an epochs budget)."""
    if feeder == "tf.data" and not backend.feeds_tf_data():
        pytest.skip("tf.data feeds fit under TensorFlow only")
    monkeypatch.setattr(backend, "feeds_tf_data", lambda: feeder == "tf.data")
    train, _ = fit_inputs(seeded_keras(cell.seed, None), NUMBERED, cell)
    return [np.asarray(x).reshape(-1).astype(int) for (x, *_), _ in zip(train["x"], range(batches), strict=False)]


@pytest.mark.parametrize("feeder", ["tf.data", "generator"])
def test_a_steps_budget_reshuffles_every_pass_and_crosses_pass_boundaries(feeder, monkeypatch):
    cell = tiny_cell(train_size=60, val_size=60, epochs=None, steps=40, eval_every=8)
    ids = np.concatenate(stream(cell, 8, feeder, monkeypatch))
    assert len(ids) == 8 * 32  # every batch full: the second one ends the first pass and starts the next
    passes = ids[:60], ids[60:120], ids[120:180]
    assert all(sorted(p) == list(range(60)) for p in passes)  # each pass holds every example once
    assert not np.array_equal(passes[0], passes[1]) and not np.array_equal(passes[1], passes[2])


@pytest.mark.parametrize("feeder", ["tf.data", "generator"])
def test_an_epochs_budget_reshuffles_every_epoch(feeder, monkeypatch):
    cell = tiny_cell(train_size=60, val_size=60, epochs=3)
    first = stream(cell, 2, feeder, monkeypatch)
    assert [len(b) for b in first] == [32, 28]  # a pass ends with its smaller last batch
    if feeder == "tf.data":  # Keras iterates the finite dataset anew each epoch
        train, _ = fit_inputs(seeded_keras(cell.seed, None), NUMBERED, cell)
        epochs = [np.concatenate([np.asarray(x).reshape(-1) for x, _ in train["x"]]) for _ in range(2)]
    else:  # one endless generator: the next pass follows the first
        epochs = np.split(np.concatenate(stream(cell, 4, feeder, monkeypatch)), 2)
    assert all(sorted(e.astype(int)) == list(range(60)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])


@pytest.mark.parametrize("budget", [{"epochs": 3}, {"epochs": None, "steps": 40, "eval_every": 8}])
def test_the_generators_batch_order_follows_the_cells_seed(budget, monkeypatch):
    def order(seed: int) -> np.ndarray:
        return np.concatenate(stream(tiny_cell(train_size=60, val_size=60, seed=seed, **budget), 4, "generator",
                                     monkeypatch))  # fmt: skip

    assert np.array_equal(order(1), order(1)) and not np.array_equal(order(1), order(2))

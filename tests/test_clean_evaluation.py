"""Evaluation is clean: every augmentation (the image layers, MNIST-1D's circular shift, Gaussian
input noise) is inactive when a split is scored, so a trained augmented model scores exactly what
the same weights score without the augmentation layers (train/layers.py, train/models.py,
train/recording.py). Tiny runs: 20 optimizer steps on 60 examples; MNIST-1D's layers on stand-in
sequences of its shape (generating MNIST-1D itself takes ~20 s)."""

from __future__ import annotations

import numpy as np
import pytest

from regbench.train import datasets, models
from regbench.train.datasets import Raw
from regbench.train.hooks import SetHooks
from regbench.train.objective import compile_model
from regbench.train.recording import clean_eval, record_fields
from regbench.train.runner import fit_cell
from regbench.train.seeding import seeded_keras
from tests.helpers import tiny_cell

pytestmark = pytest.mark.backend  # where the Keras backend matters: CI runs these under JAX as well


def stand_in(info) -> Raw:
    """Random sequences of the dataset's shape, balanced labels, its test set's size."""
    rng = np.random.default_rng(0)
    pool, test = 400, info.test_size

    def x(n: int) -> np.ndarray:
        return rng.normal(size=(n, *info.input_shape)).astype(np.float32)

    return Raw(x(pool), np.arange(pool) % info.num_classes, x(test), np.arange(test) % info.num_classes)


@pytest.mark.parametrize(
    ("dataset", "layers"),
    [
        ("digits", {"RandomTranslation", "RandomRotation", "RandomZoom"}),
        ("mnist1d", {"RandomCircularShift", "GaussianNoise"}),
        ("moons", {"GaussianNoise"}),
    ],
)
def test_a_clean_evaluation_equals_the_same_weights_without_augmentation(dataset, layers, monkeypatch):
    if dataset == "mnist1d":
        monkeypatch.setattr(datasets, "load_raw", lambda *args: stand_in(datasets.get_dataset("mnist1d")))
    cell = tiny_cell(dataset, "mlp", {"augmentation": {}}, train_size=60, val_size=60, epochs=None, steps=20,
                     eval_every=10)  # fmt: skip
    fitted = fit_cell(cell)
    model, data, info = fitted.model, fitted.data, datasets.get_dataset(dataset)
    assert layers <= {type(layer).__name__ for layer in model.layers}  # the run was augmented
    keras = seeded_keras(cell.seed, None)
    plain = models.build(cell.model, info.input_shape, info.num_classes, [], dataset=info, seed=cell.seed)
    compile_model(keras, plain, cell, SetHooks.of([]), info, cell.learning_rate)
    plain.set_weights(model.get_weights())
    x = data.x_train[:32]
    # in training mode the augmentation changes the outputs: the comparison below is not vacuous
    assert not np.allclose(np.asarray(model(x, training=True)), np.asarray(plain(x, training=True)))
    expected = {split: clean_eval(plain, getattr(data, f"x_{split}"), getattr(data, f"y_{split}"), cell.batch_size)
                for split in ("train", "val", "test")}  # fmt: skip
    final = record_fields(cell, fitted)["final"]
    for split in expected:
        assert final[split] == pytest.approx(expected[split], rel=1e-6, abs=1e-7), split

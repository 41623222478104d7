"""Every registered technique, checked by its observable effect on a model or a run."""

from __future__ import annotations

import numpy as np
import pytest

from regbench import models
from regbench.runner import run_cell
from regbench.techniques import TECHNIQUES, get_technique
from tests.helpers import tiny_cell


def build(*techniques):
    return models.build("small_cnn", (8, 8, 1), 10, list(techniques))


def layer_types(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def check_dropout():
    model = build(get_technique("dropout")(rate=0.5))
    assert layer_types(model).count("Dropout") == 1  # after the hidden dense block only
    assert layer_types(build(get_technique("dropout")(placement="all"))).count("Dropout") == 3
    x = np.ones((4, 8, 8, 1), np.float32)
    assert not np.allclose(model(x, training=True), model(x, training=True))  # random in training
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))  # not in inference


def check_batchnorm():
    before = layer_types(build(get_technique("batchnorm")()))
    assert before.count("BatchNormalization") == 3
    assert before.index("BatchNormalization") < before.index("Activation")  # Conv-BN-ReLU
    after = layer_types(build(get_technique("batchnorm")(placement="after_activation")))
    assert after.index("BatchNormalization") > after.index("Activation")


def check_l2():
    baseline = run_cell(tiny_cell(epochs=5))
    l2 = run_cell(tiny_cell(techniques={"l2": {"factor": 0.05}}, epochs=5))
    # The penalty is in the objective, not in the data loss, and it shrinks the weights.
    assert l2["final"]["train"]["objective"] > l2["final"]["train"]["loss"]
    assert baseline["final"]["train"]["objective"] == pytest.approx(baseline["final"]["train"]["loss"], rel=1e-5)
    model = build(get_technique("l2")(factor=0.01))
    assert len(model.losses) == 4  # two conv kernels, the dense kernel and the output kernel


def check_early_stopping():
    # 100 points of digits with an MLP overfit within a few epochs: validation loss rises.
    cell = tiny_cell(techniques={"early_stopping": {"patience": 2}}, epochs=200, learning_rate=1e-2)
    record = run_cell(cell)
    assert record["status"] == "ok" and record["epochs_run"] < 200
    assert record["best_epoch"] == record["epochs_run"] - 2  # restored to the best epoch


CHECKS = {
    "dropout": check_dropout,
    "batchnorm": check_batchnorm,
    "l2": check_l2,
    "early_stopping": check_early_stopping,
}


def test_every_technique_is_checked():
    assert set(CHECKS) == set(TECHNIQUES.names())


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_technique_effect(name):
    CHECKS[name]()


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_technique_has_docstring_and_defaults(name):
    cls = get_technique(name)
    assert cls.__doc__ and len(cls.__doc__.splitlines()) == 1
    cls().check()  # defaults are valid

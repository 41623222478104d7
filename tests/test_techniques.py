"""Every registered technique, checked by its observable effect on a model or a run."""

from __future__ import annotations

import numpy as np
import pytest

from regbench.train import models
from regbench.train.runner import run_cell
from regbench.train.techniques import TECHNIQUES, get_technique
from tests.helpers import tiny_cell

pytestmark = pytest.mark.backend  # where the Keras backend matters: CI runs these under JAX as well


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
    assert l2.final["train"]["objective"] > l2.final["train"]["loss"]
    assert baseline.final["train"]["objective"] == pytest.approx(baseline.final["train"]["loss"], rel=1e-5)
    model = build(get_technique("l2")(factor=0.01))
    assert len(model.losses) == 4  # two conv kernels, the dense kernel and the output kernel


def check_early_stopping():
    # 100 points of digits with an MLP overfit within a few epochs: validation loss rises.
    cell = tiny_cell(techniques={"early_stopping": {"patience": 2}}, epochs=200, learning_rate=1e-2)
    record = run_cell(cell)
    assert record.status == "ok" and record.epochs_run < 200
    assert record.best_epoch == record.epochs_run - 2  # restored to the best epoch


def trained(techniques: dict, epochs: int = 10, learning_rate: float = 1e-2, **budget):
    """(model, data) of an MLP trained on 100 digits with `techniques`, through the runner."""
    from regbench.train.runner import fit_cell

    fitted = fit_cell(tiny_cell(techniques=techniques, epochs=epochs, learning_rate=learning_rate, **budget))
    return fitted.model, fitted.data


def hidden_kernel(model) -> np.ndarray:
    return np.asarray(next(layer for layer in model.layers if type(layer).__name__ == "Dense").kernel)


def check_l1():
    # The L1 penalty's constant pull drives many weights to (near) zero (measured: 20% vs 0.7%).
    near_zero = {}
    for name in ("baseline", "l1"):
        model, _ = trained({} if name == "baseline" else {"l1": {"factor": 1e-3}})
        near_zero[name] = float(np.mean(np.abs(hidden_kernel(model)) < 1e-3))
    assert near_zero["l1"] > max(0.1, 10 * near_zero["baseline"]), near_zero


def check_l1_l2():
    model = build(get_technique("l1_l2")(l1=0.01, l2=0.1))
    kernels = [np.asarray(layer.kernel) for layer in model.layers if hasattr(layer, "kernel")]
    expected = sum(0.01 * np.abs(k).sum() + 0.1 * np.square(k).sum() for k in kernels)
    assert float(sum(np.asarray(loss) for loss in model.losses)) == pytest.approx(expected, rel=1e-4)


def check_weight_decay():
    # Decoupled decay shrinks the weights without adding any term to the loss.
    plain, _ = trained({})
    decayed, _ = trained({"weight_decay": {"factor": 0.1}})
    assert decayed.optimizer.weight_decay == pytest.approx(0.1) and not decayed.losses
    # 40 steps of w -= 0.01 * 0.1 * w alone would give 0.999^40 = 0.96; measured 0.97.
    ratio = np.linalg.norm(hidden_kernel(decayed)) / np.linalg.norm(hidden_kernel(plain))
    assert 0.9 < ratio < 0.99


def check_reduce_lr_on_plateau():
    # 100 digits overfit fast: validation loss stalls and the learning rate is cut, step by step.
    cell = tiny_cell(techniques={"reduce_lr_on_plateau": {"patience": 1, "factor": 0.5}}, epochs=30, learning_rate=1e-2)
    rates = run_cell(cell).history["train"]["learning_rate"]
    assert rates[0] == pytest.approx(1e-2) and rates[-1] <= 1e-2 * 0.5**3
    assert all(later <= earlier for earlier, later in zip(rates, rates[1:], strict=False))


def check_best_checkpoint():
    # The whole budget runs, and the final (clean) validation loss is that of the best epoch.
    record = run_cell(tiny_cell(techniques={"best_checkpoint": {}}, epochs=30, learning_rate=1e-2))
    val = record.history["val"]["xent"]
    assert record.epochs_run == 30 and record.best_epoch == int(np.argmin(val)) + 1 < 30
    assert record.final["val"]["loss"] == pytest.approx(min(val), rel=1e-4)


def check_label_smoothing():
    # Smoothed targets forbid full confidence: the training objective stays above the plain
    # cross-entropy, and predictions are less confident than without smoothing.
    record = run_cell(tiny_cell(techniques={"label_smoothing": {"factor": 0.2}}, epochs=10, learning_rate=1e-2))
    assert record.final["train"]["objective"] > record.final["train"]["loss"] + 0.1
    confidence = {}
    for name, techniques in (("plain", {}), ("smoothed", {"label_smoothing": {"factor": 0.2}})):
        model, data = trained(techniques)
        confidence[name] = float(np.mean(np.max(np.asarray(model(data.x_test[:200])), axis=1)))
    assert confidence["smoothed"] < confidence["plain"] - 0.05, confidence


def check_class_weights():
    # 300 digits, long-tailed 88..4 per class: balanced weights lift the recall of the three rarest
    # classes on the (balanced) test set (measured over seeds 1-3: 0.60 -> 0.80).
    recall = {}
    for name, techniques in (("plain", {}), ("weighted", {"class_weights": {}})):
        model, data = trained(techniques, epochs=20, learning_rate=1e-3, train_size=300, imbalance=20.0)
        predicted = np.argmax(np.asarray(model(data.x_test)), axis=1)
        recall[name] = np.mean([np.mean(predicted[data.y_test == c] == c) for c in (7, 8, 9)])
    assert recall["weighted"] > recall["plain"] + 0.1, recall


def check_transfer():
    import tempfile
    from pathlib import Path

    from regbench.train import datasets, pretrained
    from regbench.train.hooks import SetHooks
    from regbench.train.objective import compile_model
    from regbench.train.options import RunOptions
    from regbench.train.seeding import seeded_keras
    from regbench.train.techniques import Context

    # Pretrained on printed digits (1 epoch), then trained on 100 handwritten ones: the frozen
    # layers keep exactly the pretrained weights; the last block and the head learn.
    cell = tiny_cell(model="small_cnn", techniques={"transfer": {"pretrain_epochs": 1}})
    [transfer] = cell.technique_objects()
    with tempfile.TemporaryDirectory() as folder:
        context = Context(
            cell, datasets.get_dataset("digits"), RunOptions(offline=True, pretrained_dir=Path(folder)), models.build
        )
        found = pretrained.backbone(transfer, context)
        keras = seeded_keras(cell.seed, None)
        model = models.build("small_cnn", (8, 8, 1), 10, [transfer])
        transfer.prepare(model, context)
    layers = pretrained.hidden_layers(model)
    assert [layer.trainable for layer in layers] == [False, False, True]
    compile_model(keras, model, cell, SetHooks.of([transfer]), context.dataset, 1e-2)
    data = datasets.load("digits", cell.train_size, cell.val_size, cell.split_seed, None, True)
    model.fit(data.x_train, data.y_train, epochs=3, batch_size=16, verbose=0)
    for layer, weights in zip(layers, found.weights, strict=True):
        unchanged = all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), weights, strict=True))
        assert unchanged == (not layer.trainable), layer.name


def check_capacity():
    small = build(get_technique("capacity")(width=0.25))
    dense = [layer for layer in small.layers if type(layer).__name__ == "Dense"]
    assert dense[0].units == 8 and dense[-1].units == 10  # the hidden 32 shrinks, the output does not
    assert small.count_params() < 0.2 * build().count_params()


def check_augmentation():
    from regbench.train.datasets import get_dataset

    augmentation = get_technique("augmentation")()

    def input_layers(dataset):
        return [type(layer).__name__ for layer in augmentation.input_layers(get_dataset(dataset), seed=1)]

    # Digits are never mirrored (a mirrored digit is another symbol); clothes are.
    assert input_layers("digits") == ["RandomTranslation", "RandomRotation", "RandomZoom"]
    assert input_layers("fashion_mnist")[0] == "RandomFlip"
    assert input_layers("mnist1d") == ["RandomCircularShift", "GaussianNoise"]
    assert input_layers("moons") == ["GaussianNoise"]
    # Inside the model, active in training only.
    model = models.build("mlp", (8, 8, 1), 10, [augmentation], dataset=get_dataset("digits"), seed=1)
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))
    assert not np.allclose(model(x, training=True), model(x, training=False))
    # MNIST-1D: each training sequence is rolled by at most 10% of its 40 steps, values unchanged.
    from regbench.train.layers import RandomCircularShift

    seq = np.arange(16 * 40, dtype="float32").reshape(16, 40, 1)
    rolled = np.asarray(RandomCircularShift(0.1, seed=3)(seq, training=True))
    shifts = [
        next(k for k in range(-4, 5) if np.array_equal(np.roll(s, k, axis=0), r))
        for s, r in zip(seq, rolled, strict=True)
    ]
    assert len(set(shifts)) > 1
    # A seeded run repeats exactly.
    cell = tiny_cell(techniques={"augmentation": {}}, epochs=3)
    first, second = run_cell(cell), run_cell(cell)
    assert first.status == "ok" and first.final == second.final


CHECKS = {
    "augmentation": check_augmentation,
    "dropout": check_dropout,
    "batchnorm": check_batchnorm,
    "l2": check_l2,
    "early_stopping": check_early_stopping,
    "l1": check_l1,
    "l1_l2": check_l1_l2,
    "weight_decay": check_weight_decay,
    "reduce_lr_on_plateau": check_reduce_lr_on_plateau,
    "best_checkpoint": check_best_checkpoint,
    "label_smoothing": check_label_smoothing,
    "capacity": check_capacity,
    "class_weights": check_class_weights,
    "transfer": check_transfer,
}


def test_every_technique_is_checked():
    assert set(CHECKS) == set(TECHNIQUES.names())


# Pretraining a backbone makes transfer's check the longest (~1 min): `pytest -m slow` runs it.
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "transfer" else n for n in TECHNIQUES.names()]
)
def test_technique_effect(name):
    assert name in CHECKS, f"{name}: no check of its effect yet"
    CHECKS[name]()


@pytest.mark.parametrize("name", TECHNIQUES.names())
def test_technique_has_docstring_and_defaults(name):
    cls = get_technique(name)
    assert cls.__doc__ and len(cls.__doc__.splitlines()) == 1
    cls().check()  # defaults are valid

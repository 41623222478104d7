"""Every parameter of every registered technique reaches Keras with its value. Read from the
registry: a new technique or parameter is tested without editing this file.

For each parameter, a technique with a non-default value is built into what the runner builds
(the model on each kind of data it applies to, its callbacks, its loss, optimizer and fine-tuning
arguments) and the values found there are compared with those of the default technique: a number
must appear among the new values with exactly the value given (a dropout rate replaced by 0.5, or
an L2 factor divided by 10, fails); a choice (a Literal or a bool) must change what is built.
"""

from __future__ import annotations

import math
import typing
from collections import Counter
from dataclasses import fields
from typing import Any, Literal

import numpy as np
import pytest

from regbench.grid.cell import Cell, freeze_techniques
from regbench.train import models, pretrained
from regbench.train.datasets import get_dataset
from regbench.train.options import RunOptions
from regbench.train.seeding import seeded_keras
from regbench.train.techniques import TECHNIQUES, Context, get_technique

pytestmark = pytest.mark.backend  # where the Keras backend matters: CI runs these under JAX as well

# One (dataset, model) per kind of data, so that every technique applies to at least one.
DATA = (("fashion_mnist", "small_cnn"), ("mnist1d", "cnn1d"), ("moons", "mlp"))
# Values Keras holds in another unit: (technique, parameter) -> what it holds for a value v.
TRANSFORMED = {("augmentation", "rotation"): lambda v: v / 360.0}
# Parameters that act only with another one set: both techniques compared get it.
REQUIRES = {("transfer", "fine_tune_factor"): {"fine_tune_epochs": 2}}
# Parameters that need what this machine lacks (ImageNet weights): tested where those are faked.
ELSEWHERE = {
    ("transfer", "source"): "test_transfer.py::test_imagenet_weights_come_from_the_keras_cache",
    ("transfer", "image_size"): "test_transfer.py::test_imagenet_weights_come_from_the_keras_cache",
}


def parameters() -> list[tuple[str, str]]:
    return [(name, f.name) for name in TECHNIQUES.names() for f in fields(get_technique(name)) if f.init]


def other_value(name: str, param: str) -> Any:
    """A valid value other than the default, chosen to be distinctive (not a round number)."""
    cls = get_technique(name)
    default = getattr(cls(), param)
    kind = typing.get_type_hints(cls)[param]
    if typing.get_origin(kind) is Literal:
        return next(v for v in typing.get_args(kind) if v != default)
    if kind is bool:
        return not default
    if kind is int:
        return default + 2
    return default * 0.37 if default else 0.37


def number(value: Any) -> Any:
    return float(f"{value:.9g}") if isinstance(value, float) else value


def harvest(value: Any, out: Counter) -> None:
    """Every scalar inside `value` (dicts, lists and tuples opened), floats to 9 digits."""
    if isinstance(value, dict):
        for v in value.values():
            harvest(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            harvest(v, out)
    elif isinstance(value, (bool, int, float, str)) and not (isinstance(value, float) and math.isnan(value)):
        out[number(value)] += 1


def built(technique, monkeypatch) -> Counter:
    """The values in everything the runner builds from `technique`, and the names of what it built."""
    found: Counter = Counter()
    pretrainings = []

    def fake_pretrain(spec, options, build):  # the architecture's own weights, untrained: no training here
        pretrainings.append(spec)
        model = build(10)
        return pretrained.Backbone(
            [layer.get_weights() for layer in pretrained.hidden_layers(model)], {"backbone_id": "x"}
        )

    monkeypatch.setattr(pretrained, "pretrain", fake_pretrain)
    pretrained._MEMO.clear()
    for dataset, model_name in DATA:
        info = get_dataset(dataset)
        if technique.skip_reason(info, model_name):
            continue
        cell = Cell(dataset=dataset, train_size=100, val_size=100, split_seed=0, model=model_name, seed=1, epochs=1,
                    techniques=freeze_techniques({technique.name: technique.params()}), batch_size=32,
                    optimizer="adam", learning_rate=1e-3)  # fmt: skip
        context = Context(cell, info, RunOptions(offline=True), models.build)
        found.update(str(k) for k in technique.setup(context))
        seeded_keras(1, None)
        model = models.build(model_name, info.input_shape, info.num_classes, [technique], dataset=info, seed=1)
        technique.prepare(model, context)
        found[tuple(type(layer).__name__ for layer in model.layers)] += 1  # the order of the layers
        for layer in model.layers:
            found[type(layer).__name__] += 1
            harvest(layer.get_config(), found)
        found[("trainable hidden layers", sum(layer.trainable for layer in pretrained.hidden_layers(model)))] += 1
    for callback in technique.callbacks():
        found[type(callback).__name__] += 1
        harvest({k: v for k, v in vars(callback).items() if k != "model"}, found)
    harvest([technique.optimizer_kwargs(), technique.label_smoothing(), technique.kernel_penalty(),
             technique.width_multiplier(), technique.fine_tune()], found)  # fmt: skip
    harvest([(p.source, p.epochs, p.width) for p in pretrainings], found)
    return found


@pytest.mark.parametrize(("name", "param"), parameters(), ids=lambda v: v)
def test_every_parameter_reaches_keras_with_its_value(name, param, monkeypatch):
    if (name, param) in ELSEWHERE:
        test = ELSEWHERE[name, param].split("::")[1]
        module = __import__(f"tests.{ELSEWHERE[name, param].split('.py')[0]}", fromlist=[test])
        assert callable(getattr(module, test)), ELSEWHERE[name, param]
        pytest.skip(f"needs ImageNet weights: {ELSEWHERE[name, param]}")
    cls = get_technique(name)
    value = other_value(name, param)
    context = REQUIRES.get((name, param), {})
    changed = cls(**context, **{param: value})
    changed.check()  # a valid value
    new, old = built(changed, monkeypatch), built(cls(**context), monkeypatch)
    gained = new - old
    kind = typing.get_type_hints(cls)[param]
    if typing.get_origin(kind) is Literal or kind is bool:
        assert new != old, f"{name}.{param}={value!r} builds the same as the default"
        return
    expected = number(TRANSFORMED.get((name, param), lambda v: v)(value))
    hits = [v for v in gained if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isclose(v, expected)]
    trainable = [k for k in gained if isinstance(k, tuple) and k[0] == "trainable hidden layers" and k[1] == expected]
    assert hits or trainable, (
        f"{name}.{param}={value!r}: {expected!r} is not among the new values {sorted(map(str, gained))[:20]}"
    )

"""Every registered model builds for the data it accepts, and its loss falls on small data."""

from __future__ import annotations

import pytest

from regbench.train.models import MODELS, get_model
from regbench.train.runner import run_cell
from tests.helpers import tiny_cell

DATA_FOR = {"mlp": "moons", "small_cnn": "digits", "vgg_cnn": "digits", "cnn1d": "mnist1d"}
# The six-conv VGG stays at chance on 100 8x8 digits at lr 3e-3: it needs a smaller step and more data.
BUDGET = {"vgg_cnn": dict(train_size=300, learning_rate=1e-3)}


def test_every_model_is_covered():
    assert set(DATA_FOR) == set(MODELS.names())


@pytest.mark.parametrize(
    "model", [pytest.param(m, marks=pytest.mark.slow) if m == "vgg_cnn" else m for m in sorted(DATA_FOR)]
)
def test_loss_falls_on_small_data(model):
    budget = dict(epochs=8, train_size=100, learning_rate=3e-3) | BUDGET.get(model, {})
    cell = tiny_cell(DATA_FOR[model], model, **budget)
    record = run_cell(cell)
    assert record.status == "ok", record.error
    losses = record.history["train"]["xent"]
    assert len(losses) == 8 and losses[-1] < 0.8 * losses[0]
    assert record.params > 0


def test_models_reject_other_data_kinds():
    assert get_model("small_cnn").kinds == {"image"} and get_model("cnn1d").kinds == {"sequence"}
    assert get_model("mlp").kinds == {"image", "sequence", "tabular"}

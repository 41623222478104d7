"""Small cells for tests that train."""

from __future__ import annotations

from regbench.grid.cell import Cell, freeze_techniques
from regbench.train.datasets import get_dataset
from regbench.train.techniques import get_technique


def tiny_cell(dataset: str = "digits", model: str = "mlp", techniques: dict | None = None, **budget) -> Cell:
    """A cell of a few seconds; techniques = {name: {param: value}} with defaults filled in."""
    params = {name: get_technique(name)(**overrides).params() for name, overrides in (techniques or {}).items()}
    values = dict(
        train_size=100,
        val_size=100,
        split_seed=0,
        seed=1,
        epochs=3,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-3,
    )
    values.update(budget)
    assert values["val_size"] < get_dataset(dataset).train_pool
    return Cell(dataset=dataset, model=model, techniques=freeze_techniques(params), **values)

"""What several test modules share: small grids and cells for tests that train, and the numbers of a
record that must repeat exactly."""

from __future__ import annotations

from regbench.grid.cell import Cell, freeze_techniques
from regbench.result import Result
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


# Two cells of a few seconds each: digits, an MLP, baseline and dropout, one seed.
TINY_GRID = """
seeds = [1]
models = ["mlp"]
[budget]
epochs = 3
batch_size = 32
[design]
add_one = ["dropout"]
[[datasets]]
name = "digits"
train_sizes = [60]
val_size = 60
"""

SWEEP_GRID = """
seeds = [1, 2]
models = ["mlp"]
[design]
add_one = ["dropout", "l2"]
[[design.sweeps]]
technique = "dropout"
param = "rate"
values = [0.1, 0.5, 0.8]
[[design.sweeps]]
technique = "l2"
param = "factor"
values = [0.0001, 0.01]
with = ["batchnorm"]
[[datasets]]
name = "digits"
train_sizes = [100]
"""


def numbers(record: Result | dict) -> dict:
    """Everything that must repeat exactly: metrics and history, not times or environment (of a
    Result, or of a record as stored)."""
    record = Result.from_json(record) if isinstance(record, dict) else record
    history = {
        split: {m: v for m, v in by_metric.items() if m != "epoch_time_s"}
        for split, by_metric in record.history.items()
    }
    return {k: getattr(record, k) for k in ("final", "gap", "best_epoch", "epochs_run", "params")} | {
        "history": history
    }

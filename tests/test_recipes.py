"""The README's "Where to add" recipes, followed step by step: a throwaway dataset, model,
technique, executor, claim kind and figure, each registered exactly as the README says, then a
grid that uses them all is run and reported through the CLI. If a recipe misses a step, the
thing added is not found in the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from regbench.analysis.claim_measures import MEASURES
from regbench.cli import main
from regbench.grid.claim_kinds import CLAIM_KINDS, ClaimKind
from regbench.report import figures
from regbench.run.executors import EXECUTORS
from regbench.run.workers import run_in_worker
from regbench.train.datasets import DATASETS, DatasetInfo
from regbench.train.datasets.splits import Raw
from regbench.train.models import MODELS, ModelInfo
from regbench.train.techniques import TECHNIQUES, Technique, require

GRID = """
seeds = [1, 2]
models = ["tiny_mlp"]
[budget]
epochs = 2
batch_size = 16
[design]
add_one = ["input_noise"]
[[datasets]]
name = "blobs"
train_sizes = [40]
val_size = 40
[[claims]]
article = "R"
claim = "the set's test accuracy is a number"
kind = "is_a_number"
set = "input_noise"
metric = "test_accuracy"
"""


def blobs(data_dir=None, offline=False) -> Raw:
    """A dataset: three Gaussian blobs in 2-D (scikit-learn), as the official train and test data."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=300, centers=3, random_state=0)
    x, y = x.astype(np.float32), y.astype(np.int64)
    return Raw(x[:200], y[:200], x[200:], y[200:])


def tiny_body(b, x):
    """A model body: (Blocks, input) -> last hidden tensor."""
    return b.dense(b.layers.Flatten()(x), 8)


@dataclass(frozen=True)
class InputNoise(Technique):
    """A technique: Gaussian noise after every hidden dense block (a frozen dataclass with hooks)."""

    name: ClassVar[str] = "input_noise"
    short: ClassVar[str] = "noise"
    stddev: float = 0.1

    def check(self) -> None:
        require(self.stddev >= 0, "stddev", "stddev >= 0")

    def after(self, block: str) -> list[Any]:
        from keras import layers

        return [layers.GaussianNoise(self.stddev, seed=1)] if block == "dense" else []


def inline(cells, options, plan):
    """An executor: (cells, options, plan) -> results in the order they finish."""
    for cell in cells:
        yield run_in_worker(cell, options)


def is_a_number(claim, cells, history):
    """A claim kind's measure: rows with condition, compared, measured, n, verdict."""
    for condition, group in cells[cells["technique_set"] == claim.set].groupby("train_size"):
        values = group[claim.metric].to_numpy(dtype=float)
        yield {"keys": [], "condition": f"n={condition}", "compared": claim.set, "measured": f"{values.mean():.3f}",
               "n": len(values), "verdict": "supported" if np.isfinite(values).all() else "not supported"}  # fmt: skip


def test_every_recipe_adds_something_the_report_shows(tmp_path, monkeypatch):
    info = DatasetInfo("blobs", "tabular", (2,), 3, 200, 40, "make_blobs(centers=3)", blobs)
    monkeypatch.setitem(DATASETS._items, "blobs", info)
    monkeypatch.setitem(MODELS._items, "tiny_mlp", ModelInfo("tiny_mlp", frozenset({"tabular"}), "Dense8", tiny_body))
    monkeypatch.setitem(TECHNIQUES._items, "input_noise", InputNoise)
    monkeypatch.setitem(EXECUTORS._items, "inline", inline)
    monkeypatch.setitem(CLAIM_KINDS._items, "is_a_number", ClaimKind("is_a_number", False, "a number"))
    monkeypatch.setitem(MEASURES, "is_a_number", is_a_number)
    figure = figures.Figure(
        "throwaway", 99, "Where overfitting lives", "Figure {number}: every cell's test accuracy.",
        lambda frame: frame.plot.hist(y="test_accuracy").figure,
        lambda a: figures.once("throwaway.png", a.arms) if len(a.arms) else [],
    )  # fmt: skip
    monkeypatch.setattr(figures, "FIGURES", [*figures.FIGURES, figure])
    grid = tmp_path / "recipes.toml"
    grid.write_text(GRID)
    args = ["--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]
    assert main(["run", str(grid), "--executor", "inline", *args]) == 0
    report = (tmp_path / "reports" / "recipes.md").read_text()
    assert "| input_noise " in report  # the technique's cells, on the dataset, with the model
    assert "tiny_mlp" in report and "blobs" in report
    assert "| R " in report and "the set's test accuracy is a number" in report  # the claim kind measured
    assert "![Figure 99: every cell's test accuracy.](recipes/throwaway.png)" in report
    assert (tmp_path / "reports" / "recipes" / "throwaway.png").is_file()

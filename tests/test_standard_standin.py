"""The CPU-sized stand-in of the `standard` grid: the same path a GPU box takes, end to end, in
seconds: a factorial design, dedicated tuning seeds (a two-stage run: tuning cells first, then the
evaluation seeds at the candidate they chose), the full-size regime rule, and the report. On
Fashion-MNIST from Debian's files, small_cnn, a short budget."""

from __future__ import annotations

import tomllib

import pytest

from regbench.cli import main
from regbench.grid.parse import load_spec, resolve
from regbench.grid.stored import expand_stored
from regbench.records.store import Store
from regbench.train.datasets import get_dataset

STANDIN = """
description = "standard's design, CPU-sized"
seeds = [1, 2]
regime = "{regime}"
[tuning]
seeds = [9]
[budget]
steps = 60
eval_every = 20
batch_size = 32
optimizer = "adam"
learning_rates = [0.001, 0.003]
[design]
factorial = ["batchnorm", "dropout"]
add_one = ["label_smoothing"]
[[datasets]]
name = "fashion_mnist"
split_seed = "seed"
train_sizes = [100]
val_size = 100
models = ["small_cnn"]
"""


def test_the_standin_follows_standards_design():
    """What the stand-in shrinks is only sizes: standard itself has the same kinds of keys."""
    standard = tomllib.loads(resolve("standard").read_text())
    assert (
        standard["regime"] == "gap" and standard["tuning"]["seeds"] and len(standard["budget"]["learning_rates"]) >= 3
    )
    assert {"factorial", "add_one"} <= standard["design"].keys() and len(standard["design"]["factorial"]) == 5
    assert all("steps" in standard["budget"] or "steps" in d for d in standard["datasets"])


@pytest.mark.skipif(not get_dataset("fashion_mnist").on_this_machine(), reason="apt-get install dataset-fashion-mnist")
def test_the_standard_path_runs_end_to_end_on_a_cpu(write_grid, tmp_path, capsys):
    grid = write_grid(STANDIN.format(regime=load_spec("standard").regime), name="standin")
    args = ["--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]
    assert main(["run", str(grid), *args]) == 0
    out = capsys.readouterr().out
    assert "standin (tuning first): 10 cells" in out and "standin (after tuning): 20 cells" in out
    spec = load_spec(str(grid))
    cells = expand_stored(spec, Store(tmp_path / "results", "standin")).cells
    evaluation = [c for c in cells if c.seed in (1, 2)]
    assert len(evaluation) == 10 and len({(c.technique_set, c.seed) for c in evaluation}) == 10  # one candidate each
    report = (tmp_path / "reports" / "standin.md").read_text()
    assert "## Factorial design: main effects and interactions" in report and "| bn x do " in report
    assert "chosen by tuning seeds 9" in report and "gap > 0, val loss rises" in report

"""Evaluation cadence under a steps budget: `eval_every` sets both how many evaluations a run makes
and where they fall (eval_steps), as the optimizer counted its steps at each one (train/runner.py
fit_cell, train/batches.py, train/recording.py). 60 examples in batches of 32: an epoch is 2
steps. Keras runs 32 steps per compiled call at most, a divisor of the interval: every 6 steps is
one call, every 40 two calls of 20: an interval fed to Keras wrongly shows in the positions."""

from __future__ import annotations

import re

import pytest

from regbench.train.options import RunOptions
from regbench.train.runner import run_cell
from tests.helpers import tiny_cell

pytestmark = pytest.mark.backend  # where the Keras backend matters: CI runs these under JAX as well


@pytest.mark.parametrize("eval_every", [6, 40])
def test_eval_every_sets_the_number_and_the_positions_of_the_evaluations(eval_every, capsys):
    steps = 4 * eval_every
    cell = tiny_cell(train_size=60, val_size=60, epochs=None, steps=steps, eval_every=eval_every)
    record = run_cell(cell, RunOptions(verbose=1))
    assert record.status == "ok", record.error
    expected = [eval_every, 2 * eval_every, 3 * eval_every, steps]
    # the optimizer's own count at each evaluation (the progress line reads model.optimizer.iterations)
    measured = [int(s) for s in re.findall(rf"^step +(\d+)/{steps}", capsys.readouterr().out, flags=re.M)]
    assert measured == expected
    assert record.eval_steps == expected and record.steps_run == steps
    lengths = {len(v) for by_metric in record.history.values() for v in by_metric.values()}
    assert lengths == {4}
    assert record.best_step in expected and record.epochs_run == steps / 2  # 2 steps an epoch

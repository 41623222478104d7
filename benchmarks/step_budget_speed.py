"""Article D's cell (Dense500 on 30 moons, Adam) at 4,000 optimizer steps, trained as 4,000 epochs
of one step (an evaluation after each) and as a steps budget evaluated every K steps. Prints a
table: budget, evaluations, wall time, speed-up against the epochs budget. Same process, one
thread each, timed after a warm-up cell.

    python benchmarks/step_budget_speed.py [--steps 4000] [--every 10 50]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from regbench.grid.cell import Cell  # noqa: E402
from regbench.train.options import RunOptions
from regbench.train.runner import run_cell  # noqa: E402


def d_cell(steps: int, every: int | None) -> Cell:
    """Article D's baseline: epochs=steps when `every` is None (30 examples: one step an epoch)."""
    budget = {"epochs": steps} if every is None else {"epochs": None, "steps": steps, "eval_every": every}
    return Cell(dataset="moons", train_size=30, val_size=500, split_seed=0, model="mlp", techniques=(), seed=1,
                batch_size=32, optimizer="adam", learning_rate=1e-3, **budget)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--every", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    options = RunOptions(threads=1)
    run_cell(d_cell(20, 10), options)  # warm-up: imports, first tracing
    rows = []
    for every in (None, *args.every):
        start = time.perf_counter()
        record = run_cell(d_cell(args.steps, every), options)
        wall = time.perf_counter() - start
        assert record.status == "ok" and record.steps_run == args.steps, record.error
        rows.append((f"{args.steps} epochs" if every is None else f"{args.steps} steps, eval every {every}",
                     len(record.eval_steps), wall, record.final["test"]["accuracy"]))  # fmt: skip
    print(f"{'budget':32} {'evaluations':>11} {'wall (s)':>9} {'speed-up':>9} {'test acc':>9}")
    for name, evaluations, wall, test in rows:
        print(f"{name:32} {evaluations:11d} {wall:9.1f} {rows[0][2] / wall:8.1f}x {test:9.3f}")


if __name__ == "__main__":
    main()

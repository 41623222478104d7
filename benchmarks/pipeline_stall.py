"""What tf.data's autotuning costs a cell: warm cells (a compiled model kept from the cell before)
trained with the train and validation pipelines as regbench builds them (autotuning off) and with
autotuning left on, alternating in one process, one thread. Prints a table: cell, autotuning, median
wall time, median `first_call_s` (a warm cell's first call is ~0.1 s; above that is time fit spent
outside its epochs, where the stall is: the tuning thread's iterator is destroyed only when the
thread wakes), and the ratio of the medians. `--alongside 1` trains the same cells in a second
process meanwhile, as `regbench run --jobs 2` does on 2 cores: the stall shows under that load
(measured here: moons 1.3-2.0x, digits 1.1-1.3x), much less alone. TensorFlow only.

    python benchmarks/pipeline_stall.py [--repeats 3] [--alongside 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from regbench.grid.cell import Cell  # noqa: E402
from regbench.train import batches  # noqa: E402
from regbench.train.options import RunOptions  # noqa: E402
from regbench.train.runner import run_cell  # noqa: E402

# quick's moons n=100 and digits n=100 conditions, their baselines at the middle rate
CELLS = {
    "moons n=100 mlp, 1,000 steps": dict(dataset="moons", train_size=100, val_size=1000, model="mlp",
                                        learning_rate=0.01, steps=1000, eval_every=50),
    "digits n=100 small_cnn, 600 steps": dict(dataset="digits", train_size=100, val_size=500, model="small_cnn",
                                             learning_rate=0.003, steps=600, eval_every=30),
}  # fmt: skip


def cell(seed: int, **budget) -> Cell:
    """The condition's baseline at `seed` (its own training subset)."""
    return Cell(split_seed=seed, techniques=(), seed=seed, epochs=None, batch_size=32, optimizer="adam", **budget)


def timed(c: Cell, autotune: bool, options: RunOptions) -> tuple[float, float]:
    """(wall s, first_call_s) of one cell, with autotuning on or off."""
    original = batches.without_autotune
    if autotune:
        batches.without_autotune = lambda dataset: dataset
    try:
        start = time.perf_counter()
        record = run_cell(c, options)
        return time.perf_counter() - start, record.timing["first_call_s"]
    finally:
        batches.without_autotune = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--alongside", type=int, default=1, help="processes training the same cells meanwhile")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)  # one of those processes
    args = parser.parse_args()
    load = [
        subprocess.Popen([sys.executable, __file__, "--repeats", str(args.repeats), "--alongside", "0", "--quiet"])
        for _ in range(args.alongside)
    ]
    try:
        measure(args.repeats, args.quiet)
    finally:
        for process in load:
            process.wait()


def measure(repeats: int, quiet: bool) -> None:
    """Print the table (nothing when `quiet`)."""
    options = RunOptions(threads=1)
    say = (lambda line: None) if quiet else print
    say(f"| cell | autotuning | wall (median of {repeats}) | first_call_s | wall, on / off |")
    say("| --- | --- | --- | --- | --- |")
    for label, budget in CELLS.items():
        run_cell(cell(100, **budget), options)  # warm-up: the compiled model every later cell reuses
        times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for repeat in range(repeats):
            for autotune in (False, True):
                times[autotune].append(timed(cell(repeat + 1, **budget), autotune, options))
        walls = {a: statistics.median(w for w, _ in t) for a, t in times.items()}
        for autotune in (False, True):
            first = statistics.median(f for _, f in times[autotune])
            ratio = f"{walls[True] / walls[False]:.2f}" if autotune else ""
            say(
                f"| {label} | {'on' if autotune else 'off (regbench)'} | {walls[autotune]:.2f} s | {first:.2f} s | {ratio} |"
            )


if __name__ == "__main__":
    main()

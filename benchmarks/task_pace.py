"""How often a `--jobs 2` run stores its records, and so what stopping it loses: the same cells
of one shape run twice with two local workers (warmed up first: both keep the shape's compiled
model), once with tasks of up to 8 cells whatever they take (how regbench ran before) and once
with tasks of about `--seconds` of cells as the shape's last cell took (run/local.py). Prints a
table: tasks' pace, wall time, how many times records arrived, the most cells and the most
seconds of training that arrived at once (a run stopped just before that moment loses them), and
the longest wait between two arrivals.

    python benchmarks/task_pace.py [--cells 16] [--steps 1500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from regbench.grid.cell import Cell  # noqa: E402
from regbench.records.store import Store  # noqa: E402
from regbench.run import local  # noqa: E402
from regbench.run.loop import run_and_store  # noqa: E402
from regbench.run.workers import Plan  # noqa: E402
from regbench.train.options import RunOptions  # noqa: E402


def cells(count: int, steps: int, first: int = 1) -> list[Cell]:
    """quick's digits n=100 baseline at `count` seeds, `steps` optimizer steps each: one shape."""
    return [
        Cell(dataset="digits", train_size=100, val_size=500, split_seed=seed, model="small_cnn", techniques=(),
             seed=seed, epochs=None, batch_size=32, optimizer="adam", learning_rate=0.003, steps=steps,
             eval_every=steps // 20)
        for seed in range(first, first + count)
    ]  # fmt: skip


def arrivals(batch: list[Cell], seconds: float) -> list[tuple[float, float]]:
    """(time since the start, the record's wall time) of each record as the run stores it."""
    local.TASK_SECONDS, original = seconds, local.TASK_SECONDS
    seen: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder), "pace")
        write, start = store.write, time.perf_counter()

        def timed_write(record):
            seen.append((time.perf_counter() - start, record.wall_time_s or 0.0))
            return write(record)

        store.write = timed_write
        try:
            run_and_store(batch, store, RunOptions(), Plan(workers=2), label="pace")
        finally:
            local.TASK_SECONDS = original
    return seen


def row(label: str, seen: list[tuple[float, float]]) -> str:
    """One line of the table: records 0.05 s apart or less arrived together."""
    moments: list[list[tuple[float, float]]] = []
    for t, wall in sorted(seen):
        if moments and t - moments[-1][-1][0] <= 0.05:
            moments[-1].append((t, wall))
        else:
            moments.append([(t, wall)])
    times = [0.0] + [m[0][0] for m in moments]
    waits = max(b - a for a, b in zip(times, times[1:], strict=False))
    return (
        f"| {label} | {max(t for t, _ in seen):.1f} s | {len(moments)} | {max(len(m) for m in moments)} "
        f"| {max(sum(w for _, w in m) for m in moments):.1f} s | {waits:.1f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seconds", type=float, default=10.0, help="the paced run's TASK_SECONDS")
    args = parser.parse_args()
    batch = cells(args.cells, args.steps)
    arrivals(cells(4, args.steps, first=101), args.seconds)  # warm-up: single-cell tasks reach both workers
    print(f"{args.cells} cells of one shape (digits n=100 small_cnn, {args.steps} steps), 2 local workers")
    print("| tasks | wall | arrivals | most cells at once | most training at once | longest wait |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(row(f"up to {local.GROUP} cells", arrivals(batch, 1e9)))
    print(row(f"about {args.seconds:g} s of cells", arrivals(batch, args.seconds)))


if __name__ == "__main__":
    main()

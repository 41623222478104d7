"""Runner overhead: a regbench cell against a hand-tuned Keras loop training the same model for the
same steps on the same data, per quick condition and backend, in one process, alternating.

Kinds, timed in the same process in turn, --repeats times:
- tuned: what a careful user writes: the data loaded, the model built (regbench's architecture,
  the baseline), compiled with Adam and cross-entropy (accuracy only), a tf.data pipeline under
  TensorFlow (shuffled, repeated, batched, prefetched; under JAX a numpy generator), the same
  steps per compiled call, validation at each of the cell's evaluations in batches of 1,024, then
  one evaluation of train and test. A fresh model each time: tracing and compiling included.
- regbench cold: `run_cell` of the baseline cell as a worker's first cell of its shape (no
  compiled model kept: built, traced and compiled).
- regbench warm: `run_cell` of the same cell at another seed right after, as most cells of a grid
  run (the worker keeps the compiled model: train/compiled.py).

Prints, per condition and backend, the minimum and median seconds of each kind, regbench / tuned
(minimum and median), and the split of a regbench cell (Result.timing, medians): set-up (data,
build, compile or restart), first call (tracing and compiling above a steady interval), steady
training, validation, final evaluations. Target: warm regbench <= 1.2x tuned under TensorFlow.

    python benchmarks/runner_overhead.py [--repeats 3] [--backends tensorflow jax] [--only digits]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONDITIONS = {  # the quick grid's conditions (src/regbench/grids/quick.toml), the baseline at its first rate
    "digits": {"dataset": "digits", "model": "small_cnn", "train_size": 200, "val_size": 200, "steps": 1000,
               "eval_every": 50, "learning_rate": 0.003},
    "mnist1d": {"dataset": "mnist1d", "model": "cnn1d", "train_size": 1000, "val_size": 500, "steps": 1500,
                "eval_every": 50, "learning_rate": 0.001},
    "moons": {"dataset": "moons", "model": "mlp", "train_size": 30, "val_size": 30, "steps": 400, "eval_every": 10,
              "learning_rate": 0.003},
}  # fmt: skip
SPLIT = ("setup_s", "first_call_s", "train_s", "validate_s", "evaluate_s")


def baseline_cell(condition: str, seed: int):
    from regbench.grid.cell import Cell

    c = CONDITIONS[condition]
    return Cell(dataset=c["dataset"], train_size=c["train_size"], val_size=c["val_size"], split_seed=seed,
                model=c["model"], techniques=(), seed=seed, epochs=None, batch_size=32, optimizer="adam",
                learning_rate=c["learning_rate"], steps=c["steps"], eval_every=c["eval_every"])  # fmt: skip


def tuned(cell) -> float:
    """Seconds of the hand-tuned loop for `cell`'s model, steps and data."""
    import keras
    import numpy as np

    from regbench.train import backend, datasets, models
    from regbench.train.batches import steps_per_call

    start = time.perf_counter()
    info = datasets.get_dataset(cell.dataset)
    d = datasets.load(cell.dataset, cell.train_size, cell.val_size, cell.split_seed, None, True)
    y_train, y_val, y_test = (y.reshape(-1, 1) if info.num_classes == 2 else y for y in (d.y_train, d.y_val, d.y_test))
    keras.utils.set_random_seed(cell.seed)
    model = models.build(cell.model, info.input_shape, info.num_classes, [])
    loss = "binary_crossentropy" if info.num_classes == 2 else "sparse_categorical_crossentropy"
    model.compile(keras.optimizers.Adam(cell.learning_rate), loss, metrics=["accuracy"],
                  steps_per_execution=steps_per_call(cell), jit_compile=backend.jit_compile(False))  # fmt: skip
    intervals = cell.steps // cell.eval_every
    if backend.feeds_tf_data():
        import tensorflow as tf

        def batched(x, y, size):
            return tf.data.Dataset.from_tensor_slices((x, y)).batch(size)

        train = tf.data.Dataset.from_tensor_slices((d.x_train, y_train)).shuffle(len(y_train), seed=cell.seed)
        train = train.repeat().batch(cell.batch_size).prefetch(tf.data.AUTOTUNE)
        model.fit(train, steps_per_epoch=cell.eval_every, epochs=intervals, verbose=0,
                  validation_data=batched(d.x_val, y_val, 1024))  # fmt: skip
        model.evaluate(batched(d.x_train, y_train, 1024), verbose=0)
        model.evaluate(batched(d.x_test, y_test, 1024), verbose=0)
    else:
        rng = np.random.default_rng(cell.seed)

        def batches():
            while True:
                index = rng.integers(0, len(y_train), cell.batch_size)
                yield d.x_train[index], y_train[index]

        model.fit(batches(), steps_per_epoch=cell.eval_every, epochs=intervals, verbose=0,
                  validation_data=(d.x_val, y_val), validation_batch_size=1024)  # fmt: skip
        model.evaluate(d.x_train, y_train, batch_size=1024, verbose=0)
        model.evaluate(d.x_test, y_test, batch_size=1024, verbose=0)
    return time.perf_counter() - start


def regbench(cell) -> tuple[float, dict]:
    """(seconds, Result.timing) of run_cell(cell)."""
    from regbench.train.runner import run_cell

    start = time.perf_counter()
    record = run_cell(cell)
    seconds = time.perf_counter() - start
    assert record.ok, record.error
    return seconds, record.timing


def worker(conditions: list[str], repeats: int) -> None:
    """In one process of one backend: every kind of every condition, alternating; one JSON line each."""
    from regbench.train import compiled
    from regbench.train.datasets import load_raw

    for condition in conditions:
        load_raw(CONDITIONS[condition]["dataset"], None, True)  # the files read once, before any clock
        for repeat in range(repeats):
            seed = 10 * repeat + 1
            order = ["tuned", "cold"] if repeat % 2 == 0 else ["cold", "tuned"]
            for kind in order:
                if kind == "tuned":
                    print(json.dumps({"condition": condition, "kind": "tuned", "seconds": tuned(baseline_cell(condition, seed))}), flush=True)  # fmt: skip
                    continue
                compiled.forget()  # the worker's first cell of this shape
                for label, cell in (
                    ("cold", baseline_cell(condition, seed)),
                    ("warm", baseline_cell(condition, seed + 1)),
                ):
                    seconds, timing = regbench(cell)
                    print(json.dumps({"condition": condition, "kind": label, "seconds": seconds, "timing": timing}), flush=True)  # fmt: skip


def measure(backend: str, conditions: list[str], repeats: int) -> list[dict]:
    """The worker's lines, run under `backend` in a fresh process."""
    env = os.environ | {"KERAS_BACKEND": backend, "REGBENCH_OFFLINE": "1"}
    argv = [sys.executable, __file__, "--worker", "--repeats", str(repeats), "--only", *conditions]
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def table(backend: str, rows: list[dict]) -> None:
    """Prints one backend's two tables: times against the tuned loop, and a cell's split."""
    print(f"\n{backend}: seconds per cell, minimum / median of {len(rows) // 3 // len({r['condition'] for r in rows})}")
    print(
        f"{'condition':10} {'tuned':>13} {'regbench cold':>15} {'regbench warm':>15} {'cold/tuned':>11} {'warm/tuned':>11}"
    )
    for condition in dict.fromkeys(r["condition"] for r in rows):
        s = {
            k: [r["seconds"] for r in rows if r["condition"] == condition and r["kind"] == k]
            for k in ("tuned", "cold", "warm")
        }
        lo = {k: min(v) for k, v in s.items()}
        mid = {k: statistics.median(v) for k, v in s.items()}
        cells = [f"{lo[k]:6.2f} /{mid[k]:6.2f}" for k in ("tuned", "cold", "warm")]
        ratios = [f"{lo[k] / lo['tuned']:4.2f} /{mid[k] / mid['tuned']:4.2f}" for k in ("cold", "warm")]
        print(f"{condition:10} {cells[0]:>13} {cells[1]:>15} {cells[2]:>15} {ratios[0]:>11} {ratios[1]:>11}")
    print(f"\n{backend}: a regbench cell's seconds (Result.timing, medians)")
    print(f"{'condition':10} {'kind':5} " + " ".join(f"{k[:-2]:>10}" for k in SPLIT))
    for condition in dict.fromkeys(r["condition"] for r in rows):
        for kind in ("cold", "warm"):
            timings = [r["timing"] for r in rows if r["condition"] == condition and r["kind"] == kind]
            print(f"{condition:10} {kind:5} " + " ".join(f"{statistics.median(t[k] for t in timings):10.2f}" for k in SPLIT))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--only", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.only, args.repeats)
        return 0
    import joblib

    print(f"{joblib.cpu_count()} cores; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    for backend in args.backends:
        table(backend, measure(backend, args.only, args.repeats))
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    print("target: regbench warm <= 1.2x tuned under TensorFlow")
    return 0


if __name__ == "__main__":
    sys.exit(main())

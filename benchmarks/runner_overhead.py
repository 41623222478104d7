"""Runner overhead: one cell through regbench's `run_cell` vs the same model, data, epochs and batch
size in a minimal Keras script (`model.fit` on the arrays, then `evaluate` on train and test: the
least a user writes to get the generalization gap). Target: ratio <= 1.05 on the CPU. A third
kind, "tuned", feeds that script regbench's input pipeline, isolating what the runner itself adds
(callbacks, the clean evaluation of three splits, the record).

Each run is a fresh `python` process (the same process type for both); the clock starts after the
imports and the raw data are loaded and stops when the last evaluation returns. The two kinds
alternate, --repeats times; the table shows medians.

    python benchmarks/runner_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import joblib

# (dataset, model, train size, validation size, epochs, batch size): a quick cell and a fashion cell.
CASES = [("digits", "mlp", 500, 300, 25, 32), ("fashion_mnist", "small_cnn", 1000, 2000, 10, 64)]

PRELUDE = """
import json, sys, time
import keras  # imports happen before the clock in both kinds (regbench's runner imports Keras lazily)
from regbench.train import datasets
dataset, model_name, n, val, epochs, batch = json.loads(sys.argv[1])
datasets.load_raw(dataset, None, True)  # read the files before the clock starts (both kinds)
"""

REGBENCH = (
    PRELUDE
    + """
from regbench.grid.cell import Cell, freeze_techniques
from regbench.train.runner import run_cell
cell = Cell(dataset=dataset, model=model_name, techniques=freeze_techniques({}), train_size=n, val_size=val, split_seed=0, seed=1,
            epochs=epochs, batch_size=batch, optimizer="adam", learning_rate=1e-3)
start = time.perf_counter()
record = run_cell(cell)
seconds = time.perf_counter() - start
assert record.status == "ok", record.error
print(json.dumps({"seconds": seconds, "test_accuracy": record.final["test"]["accuracy"]}))
"""
)

BARE = (
    PRELUDE
    + """
start = time.perf_counter()
d = datasets.load(dataset, n, val, 0, None, True)
keras.utils.set_random_seed(1)
L = keras.layers
if model_name == "mlp":
    hidden = [L.Flatten(), L.Dense(500, activation="relu")]
else:
    hidden = [L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(),
              L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(),
              L.Flatten(), L.Dense(32, activation="relu")]
model = keras.Sequential([keras.Input(d.x_train.shape[1:]), *hidden, L.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"],
              steps_per_execution=STEPS)
if TUNED:  # regbench's input pipeline: tf.data from the arrays, shuffled each epoch
    import tensorflow as tf
    train = tf.data.Dataset.from_tensor_slices((d.x_train, d.y_train)).shuffle(len(d.x_train), seed=1).batch(batch)
    val = tf.data.Dataset.from_tensor_slices((d.x_val, d.y_val)).batch(batch)
    model.fit(train, epochs=epochs, validation_data=val, verbose=0)
else:
    model.fit(d.x_train, d.y_train, batch_size=batch, epochs=epochs, validation_data=(d.x_val, d.y_val), verbose=0)
model.evaluate(d.x_train, d.y_train, verbose=0)
_, accuracy = model.evaluate(d.x_test, d.y_test, verbose=0)
print(json.dumps({"seconds": time.perf_counter() - start, "test_accuracy": accuracy}))
"""
)


TUNED = BARE.replace("STEPS", "32").replace("TUNED", "True")
BARE = BARE.replace("STEPS", "1").replace("TUNED", "False")


def timed(script: str, case: tuple) -> dict:
    done = subprocess.run([sys.executable, "-c", script, json.dumps(case)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{joblib.cpu_count()} cores; medians of {args.repeats} fresh processes per kind")
    print("bare: Keras defaults (arrays, one step per call); tuned: regbench's tf.data pipeline and 32 steps per call")
    print(f"{'cell':50} {'bare (s)':>8} {'tuned (s)':>9} {'regbench (s)':>12} {'/bare':>6} {'/tuned':>6}")
    for case in CASES:
        times = {"bare": [], "tuned": [], "regbench": []}
        for _ in range(args.repeats):
            for kind, script in (("bare", BARE), ("tuned", TUNED), ("regbench", REGBENCH)):
                times[kind].append(timed(script, case)["seconds"])
        b, t, r = (statistics.median(v) for v in times.values())
        label = "{} {} n={} {} epochs, batch {}".format(*case[:3], *case[4:])
        print(f"{label:50} {b:8.2f} {t:9.2f} {r:12.2f} {r / b:6.2f} {r / t:6.2f}", flush=True)
    print("target: regbench / bare <= 1.05")
    return 0


if __name__ == "__main__":
    sys.exit(main())

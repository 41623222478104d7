"""One grid under TensorFlow and under JAX: the wall time of each run and, per effect against the
baseline (tuned arms, paired by seed), both estimates with their 95% CIs and whether they overlap
and agree in sign. Single cells differ between backends (other kernels, other random streams for
dropout and augmentation); effects are what should agree.

    python benchmarks/backend_agreement.py [GRID] [--jobs 2] [--folder DIR] [--only PATTERN ...]

Each backend runs in a fresh `regbench run` process into DIR/<backend> (default: a new temporary
folder); with --folder pointing at earlier runs, stored cells are kept and only the time of what
was left to run is measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.regbench_run

from benchmarks.regbench_run import timed_run  # noqa: E402
from regbench.analysis import compare  # noqa: E402
from regbench.analysis.labels import condition_labels  # noqa: E402

BACKENDS = ("tensorflow", "jax")


def run_both(grid: str, folder: Path, extra: list[str]) -> dict[str, float]:
    """{backend: wall seconds} of `regbench run GRID` under each backend into folder/<backend>."""
    seconds = {}
    # JAX starts from an empty compilation cache of its own: what a first run on a machine costs.
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder / "jax-compilation-cache")
    for backend in BACKENDS:
        os.environ["KERAS_BACKEND"] = backend
        seconds[backend], _ = timed_run(grid, folder / backend, *extra)
    return seconds


def agreement(folder: Path, grid: str) -> pd.DataFrame:
    """Per effect on the accuracy gap and on test accuracy: metric, condition, set, TensorFlow and
    JAX means with 95% CIs (pp), CIs overlap, same sign (where either CI excludes 0)."""
    stores = [compare.folder(folder / backend / "results" / Path(grid).stem) for backend in BACKENDS]
    both = compare.effect_overlap(*(compare.records(s) for s in stores))
    both = both[both["metric"].isin(["accuracy_gap", "test_accuracy"])]  # the report's headline effects, in pp
    pp = both.assign(**{c: both[c] * 100 for c in ("mean_a", "low_a", "high_a", "mean_b", "low_b", "high_b")})
    return pd.DataFrame({
        "metric": both["metric"],
        "condition": condition_labels(both),
        "set": both["technique_set"],
        "TensorFlow (pp)": interval(pp, "a"),
        "JAX (pp)": interval(pp, "b"),
        "CIs overlap": both["overlap"].map({True: "yes", False: "no"}),
        "same sign": np.where(both["signed"], both["same_sign"].map({True: "yes", False: "no"}), "- (both CIs include 0)"),
    })  # fmt: skip


def interval(effects: pd.DataFrame, side: str) -> pd.Series:
    """'+1.2 [+0.3, +2.1]' from the mean_, low_ and high_ columns of one side ('a' or 'b')."""
    text = {k: effects[f"{k}_{side}"].map("{:+.1f}".format) for k in ("mean", "low", "high")}
    return text["mean"] + " [" + text["low"] + ", " + text["high"] + "]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("grid", nargs="?", default="quick")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--only", action="append", default=[])
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="regbench-backends-"))
    extra = ["--jobs", str(args.jobs), *(x for pattern in args.only for x in ("--only", pattern))]
    seconds = run_both(args.grid, folder, extra)
    table = agreement(folder, args.grid)
    print(table.to_markdown(index=False))
    signed = table[table["same sign"].isin(["yes", "no"])]
    print(f"\n{len(table)} effects; CIs overlap in {(table['CIs overlap'] == 'yes').sum()}; of the {len(signed)} "
          f"whose CI excludes 0 under either backend, signs agree in {(signed['same sign'] == 'yes').sum()}")  # fmt: skip
    print(f"wall time: TensorFlow {seconds['tensorflow']:.0f} s, JAX {seconds['jax']:.0f} s, "
          f"JAX / TensorFlow {seconds['jax'] / seconds['tensorflow']:.2f} ({args.jobs} jobs; results in {folder})")  # fmt: skip


if __name__ == "__main__":
    main()

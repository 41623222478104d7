"""Dask overhead: a tiny grid on a Dask LocalCluster (2 worker processes) vs joblib workers locally.

Both from empty results, each in a fresh `regbench run` process with the same worker count; prints
wall times and the ratio. Writes only into a temporary folder.

    python benchmarks/dask_overhead.py [--workers 2] [--seeds 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.regbench_run

from benchmarks.regbench_run import timed_run  # noqa: E402

# Digits, an MLP, 5 epochs: baseline and dropout per seed (a few seconds per cell).
GRID = """
seeds = {seeds}
models = ["mlp"]
[budget]
epochs = 5
batch_size = 32
[design]
add_one = ["dropout"]
[[datasets]]
name = "digits"
train_sizes = [200]
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        grid = tmp / "tiny.toml"
        grid.write_text(GRID.format(seeds=list(range(1, args.seeds + 1))))
        jobs = ["--jobs", str(args.workers)]
        local, _ = timed_run(grid, tmp / "local", *jobs)
        dask, _ = timed_run(grid, tmp / "dask", *jobs, "--executor", "dask")
    cells = 2 * args.seeds
    print(f"{cells} cells (digits, mlp, 5 epochs), {args.workers} workers, from empty results")
    print(f"{'backend':34} {'wall (s)':>8}")
    print(f"{'local (joblib loky)':34} {local:8.1f}")
    print(f"{'dask (LocalCluster, started here)':34} {dask:8.1f}")
    print(f"{'ratio dask / local':34} {dask / local:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

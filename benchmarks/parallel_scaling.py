"""Wall time of a whole grid with `--jobs 1` vs `--jobs 2` (or other counts), each from empty results.

Runs `regbench run GRID` in a fresh process per job count, in this order, on the same machine;
prints a table (wall time, speed-up, cells per minute). Writes only into a temporary folder.

    python benchmarks/parallel_scaling.py [--grid quick] [--jobs 1 2] [--only PATTERN]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib


def run_grid(grid: str, jobs: int, folder: Path, only: list[str]) -> tuple[float, str]:
    """Seconds to run `grid` with `jobs` workers into `folder`, and regbench's last output line."""
    argv = [sys.executable, "-m", "regbench.cli", "run", grid, "--jobs", str(jobs)]
    argv += ["--results", str(folder / "results"), "--out", str(folder / "reports")]
    for pattern in only:
        argv += ["--only", pattern]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"regbench run --jobs {jobs} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="quick")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", action="append", default=[], help="passed on to regbench run")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            seconds, last = run_grid(args.grid, jobs, Path(tmp) / f"jobs{jobs}", args.only)
            cells = int(last.split("ran ")[1].split()[0])
            rows.append((jobs, seconds, cells))
            print(f"--jobs {jobs}: {last}", flush=True)
    base = rows[0][1]
    print(f"\ngrid {args.grid}, {joblib.cpu_count()} cores")
    print(f"{'jobs':>4} {'cells':>6} {'wall (s)':>9} {'speed-up':>9} {'cells/min':>10}")
    for jobs, seconds, cells in rows:
        print(f"{jobs:>4} {cells:>6} {seconds:9.1f} {base / seconds:9.2f} {60 * cells / seconds:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

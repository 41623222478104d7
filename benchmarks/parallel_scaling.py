"""Wall time of a whole grid with `--jobs 1` vs `--jobs 2` (or other counts), each from empty results.

Runs `regbench run GRID` in a fresh process per job count, in this order, on the same machine;
prints a table (wall time, speed-up, cells per minute). Writes only into a temporary folder.

    python benchmarks/parallel_scaling.py [--grid quick] [--jobs 1 2] [--only PATTERN]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.regbench_run

import joblib  # noqa: E402

from benchmarks.regbench_run import timed_run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="quick")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", action="append", default=[], help="passed on to regbench run")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            only = [a for pattern in args.only for a in ("--only", pattern)]
            seconds, last = timed_run(args.grid, Path(tmp) / f"jobs{jobs}", "--jobs", str(jobs), *only)
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

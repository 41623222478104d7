"""Resume: `regbench run` on a grid whose every cell is stored returns in <= 3 s (>= 1,000 cells).

Writes synthetic records for every cell of a generated grid (no training), runs `regbench run` once
(it writes the report), then times further runs in fresh processes: they find nothing to train and
an up-to-date report. Prints a table; writes only into a temporary folder.

    python benchmarks/resume_speed.py [--seeds 11]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.synthetic

from benchmarks.regbench_run import timed_run  # noqa: E402
from regbench.grid.expand import expand  # noqa: E402
from regbench.grid.parse import load_spec  # noqa: E402
from regbench.records.store import Store  # noqa: E402
from tests.synthetic import write_synthetic  # noqa: E402

# 4 datasets x 3 sizes x 16 factorial sets x seeds: 1,056 cells at 11 seeds (datasets that need no download).
GRID = """
description = "synthetic resume benchmark"
seeds = {seeds}
[budget]
epochs = 20
[design]
factorial = ["batchnorm", "dropout", "early_stopping", "l2"]
[[datasets]]
name = "digits"
train_sizes = [100, 300, 1000]
[[datasets]]
name = "moons"
train_sizes = [100, 300, 1000]
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        grid = tmp / "resume.toml"
        grid.write_text(GRID.format(seeds=list(range(1, args.seeds + 1))))
        cells = expand(load_spec(str(grid))).cells
        write_synthetic(cells, Store(tmp / "results", "resume"))
        first, _ = timed_run(grid, tmp)
        resumes = [timed_run(grid, tmp) for _ in range(args.repeats)]
    print(f"{len(cells):,} stored cells; last line: {resumes[-1][1]}")
    print(f"{'regbench run':44} {'seconds':>8}")
    print(f"{'first (writes the report)':44} {first:8.2f}")
    print(f"{f'resume, median of {args.repeats} (target <= 3 s)':44} {statistics.median(s for s, _ in resumes):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

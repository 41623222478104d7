"""How long `regbench report` takes on 10,000 stored cells with realistic per-epoch histories.

Target: <= 15 s on a 2-core machine. Prints a table; writes only into a temporary folder.

    python benchmarks/report_speed.py [--cells 10000] [--epochs 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.synthetic_results

from benchmarks.synthetic_results import write_synthetic  # noqa: E402
from regbench import aggregate, report  # noqa: E402
from regbench.grid import expand  # noqa: E402
from regbench.spec import load_spec  # noqa: E402
from regbench.store import Store  # noqa: E402

GRID = """
description = "synthetic benchmark grid"
seeds = {seeds}
[budget]
epochs = {epochs}
[design]
factorial = ["batchnorm", "dropout", "early_stopping", "l2"]
[[datasets]]
name = "fashion_mnist"
train_sizes = [100, 300, 1000, 3000, 10000]
[[datasets]]
name = "mnist"
train_sizes = [100, 300, 1000, 3000, 10000]
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    seeds = list(range(1, -(-args.cells // (2 * 5 * 16)) + 1))  # datasets x sizes x 16 sets
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(GRID.format(seeds=seeds, epochs=args.epochs))
        spec = load_spec(str(path))
        cells = list(expand(spec).cells)
        write_synthetic(cells, Store(Path(tmp) / "results", "bench"))
        timings = {}
        start = time.perf_counter()
        tables = report.collect(spec, Path(tmp) / "results")
        timings["read + statistics"] = time.perf_counter() - start
        t = time.perf_counter()
        figures = report.draw_figures(tables, Path(tmp) / "reports" / "bench")
        timings[f"{len(figures)} figures"] = time.perf_counter() - t
        t = time.perf_counter()
        report.write_tables(tables, Path(tmp) / "results", "bench")
        report.render(spec, tables, {k: v.name for k, v in figures.items()})
        timings["CSV tables + markdown"] = time.perf_counter() - t
        total = time.perf_counter() - start
        rows = len(tables.history)
    print(f"report of {len(cells):,} cells ({rows:,} history rows, {len(aggregate.EFFECT_METRICS)} effect metrics)")
    print(f"{'step':28} {'seconds':>8}")
    for step, seconds in timings.items():
        print(f"{step:28} {seconds:8.2f}")
    print(f"{'total (target <= 15 s)':28} {total:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

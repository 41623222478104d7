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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.synthetic

import joblib  # noqa: E402

from regbench.analysis import collect as analysis  # noqa: E402
from regbench.analysis.inputs import read_inputs  # noqa: E402
from regbench.grid.expand import expand  # noqa: E402
from regbench.grid.parse import load_spec  # noqa: E402
from regbench.records.store import Store  # noqa: E402
from regbench.report import page as markdown  # noqa: E402
from regbench.report import write as report  # noqa: E402
from tests.synthetic import write_synthetic  # noqa: E402

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
        results, reports = Path(tmp) / "results", Path(tmp) / "reports"
        start = time.perf_counter()
        report.build_report(spec, results, reports)
        total = time.perf_counter() - start
        # Where the time goes, step by step in this process (the report itself overlaps them).
        steps = {}
        t = time.perf_counter()
        tables = analysis.collect(read_inputs(spec, results))
        steps["read results + statistics"] = time.perf_counter() - t
        tasks = report.figure_tasks(tables, reports / "bench")
        t = time.perf_counter()
        for figure, drawing, path in tasks:
            report.draw(figure.plot, drawing.args, path)
        steps[f"{len(tasks)} figures"] = time.perf_counter() - t
        t = time.perf_counter()
        report.write_tables(tables, results, "bench")
        markdown.render(spec, tables, {(f.name, d.key): f"bench/{path.name}" for f, d, path in tasks})
        steps["CSV tables + markdown"] = time.perf_counter() - t
    print(f"report of {len(cells):,} cells, {len(tables.history):,} history rows, {joblib.cpu_count()} cores")
    print(f"{'step (one process)':32} {'seconds':>8}")
    for step, seconds in steps.items():
        print(f"{step:32} {seconds:8.2f}")
    print(f"{'sum of steps':32} {sum(steps.values()):8.2f}")
    print(f"{'build_report (target <= 15 s)':32} {total:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

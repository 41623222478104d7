"""Command line: argument parsing only; wires spec -> grid -> executor -> store together."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from regbench.errors import StoreError, UsageError

DEFAULT_GRID = "quick"


PRECISIONS = ("float16", "bfloat16")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(with_precision(list(sys.argv[1:] if argv is None else argv)))
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"regbench: error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(
            f"regbench: error: {exc}; the cells stored before are kept, run the same command to resume", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print("regbench: interrupted; stored cells are kept, run again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `regbench list | head`: the reader has gone, nothing is wrong
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that Python's exit flush stays quiet
        return 0


def with_precision(argv: list[str]) -> list[str]:
    """`--mixed-precision` takes an optional value: before a word that is not one (`run
    --mixed-precision quick`) it means float16, and that word stays the grid."""
    out = []
    for i, word in enumerate(argv):
        out.append(word)
        if word == "--mixed-precision" and (i + 1 == len(argv) or argv[i + 1] not in PRECISIONS):
            out.append("float16")
    return out


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: an integer >= 1")
    return value


def tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: a finite number >= 0")
    return value


def pattern(text: str) -> str:
    if not text:  # '' would match every cell by id prefix: a typo, not a choice
        raise argparse.ArgumentTypeError("'' is not allowed; allowed: a glob of slugs or an id prefix, e.g. 'digits/*'")
    return text


def folder(text: str) -> Path:
    """A folder option (--results, --out): a folder, or a path where one can be made; a file in
    the way is a bad option before anything is computed."""
    path = Path(text)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise argparse.ArgumentTypeError(
                    f"{text!r}: {part} is a file, not a folder; allowed: a folder, or a path where one can be made"
                )
            break
    return path


class OneLineParser(argparse.ArgumentParser):
    """Option errors are one line and exit 2, like every other bad input (no usage block)."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message}; see `{self.prog} --help`", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    from regbench import __version__
    from regbench.grid.parse import shipped_grids
    from regbench.run.executors import EXECUTORS

    grids = ", ".join(shipped_grids())
    parser = OneLineParser(
        prog="regbench",
        description="Ablation benchmarks of regularization techniques: what they do to the generalization gap.",
        epilog=f"Shipped grids: {grids} (`regbench grids` describes them). `regbench COMMAND --help` for a command.",
    )
    parser.add_argument("--version", action="version", version=f"regbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    grid_help = f"a shipped grid ({grids}) or the path of a .toml grid file (default: quick)"

    def add(name: str, func, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        return sub

    def data_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data-dir", type=Path, help="folder with dataset files (default: $REGBENCH_DATA)")
        sub.add_argument("--offline", action="store_true", help="never download a dataset")
        sub.add_argument("--results", type=folder, default=Path("results"), help="results root (default: results)")

    def numerics_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--mixed-precision",
            choices=PRECISIONS,
            help="train in mixed precision: Keras' mixed_float16 (default) or mixed_bfloat16 policy, output layer "
            "in float32; recorded per cell (it changes the numbers)",
        )
        sub.add_argument("--xla", action="store_true", help="compile with XLA (jit_compile); recorded per cell")

    run = add("run", cmd_run, "Train every cell of a grid that is not stored yet.")
    run.add_argument("grid", nargs="?", default=DEFAULT_GRID, help=grid_help)
    run.add_argument(
        "--jobs", type=positive_int, help="cells trained in parallel processes on a machine without GPUs (default: 1)"
    )
    run.add_argument(
        "--cells-per-gpu",
        type=positive_int,
        default=1,
        metavar="K",
        help="cells trained at once on each GPU, sharing its memory (default: 1); one worker per GPU and cell slot",
    )
    run.add_argument(
        "--executor",
        choices=EXECUTORS.names(),
        default="local",
        help="local: this machine's processes (joblib); dask: a Dask cluster (default: local)",
    )
    run.add_argument("--backend", choices=EXECUTORS.names(), help=argparse.SUPPRESS)  # the old name of --executor
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler to send cells to, e.g. tcp://10.0.0.5:8786 (implies --executor dask; "
        "without it --executor dask starts a LocalCluster)",
    )
    run.add_argument("--force", action="store_true", help="recompute cells that are already stored")
    run.add_argument("--retry-failed", action="store_true", help="recompute cells stored as failed")
    run.add_argument(
        "--only",
        action="append",
        type=pattern,
        metavar="PATTERN",
        help="only cells whose slug matches this glob or whose id starts with it (repeatable)",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", help="show the backend's start-up log (absl, oneDNN, CUDA) and warnings"
    )
    data_options(run)
    numerics_options(run)
    run.add_argument("--out", type=folder, default=Path("reports"), help="where the report goes (default: reports)")

    report = add(
        "report", cmd_report, "Write reports/<grid>.md, its figures and results/<grid>/cells.csv, history.csv."
    )
    report.add_argument("grid", nargs="?", default=DEFAULT_GRID, help=grid_help)
    report.add_argument(
        "--results", type=folder, default=Path("results"), help="results root, holding <grid>/cells/ (default: results)"
    )
    report.add_argument("--out", type=folder, default=Path("reports"), help="report folder (default: reports)")

    listing = add("list", cmd_list, "Print the cells of a grid, counts, and what was left out and why.")
    listing.add_argument("grid", nargs="?", default=DEFAULT_GRID, help=grid_help)
    listing.add_argument(
        "--only",
        action="append",
        type=pattern,
        metavar="PATTERN",
        help="only cells whose slug matches this glob or whose id starts with it (repeatable)",
    )
    listing.add_argument(
        "--results", type=folder, default=Path("results"), help="results root, holding <grid>/cells/ (default: results)"
    )
    listing.add_argument("--data-dir", type=Path, help="folder with dataset files (default: $REGBENCH_DATA)")
    listing.add_argument(
        "--estimate",
        action="store_true",
        help="time a few optimizer steps of each kind of cell on this machine and estimate the grid's training time",
    )

    cell = add("cell", cmd_cell, "Rerun one cell in the foreground with Keras' output, print and store its result.")
    cell.add_argument("cell", metavar="ID_OR_SLUG", help="cell id (or a unique prefix) or slug")
    cell.add_argument("--grid", default=DEFAULT_GRID, help=f"the grid the cell belongs to: {grid_help}")
    data_options(cell)
    numerics_options(cell)

    compare = add(
        "compare",
        cmd_compare,
        "Compare two results folders of one grid: cells in one only, cells whose metrics differ and why, effects whose CIs do not overlap.",
    )
    compare.add_argument("a", type=Path, help="a grid's results folder, e.g. results/quick")
    compare.add_argument("b", type=Path, help="another, e.g. results/reference/quick")
    compare.add_argument(
        "--tolerance",
        type=tolerance,
        default=0.005,
        help="largest difference of a final metric taken as equal (default 0.005)",
    )
    compare.add_argument("--all", action="store_true", help="list every differing cell (default: the 15 largest)")

    add("grids", cmd_grids, "List the shipped grids.")
    return parser


def cmd_compare(args) -> int:
    from regbench.analysis.compare import compare, text

    found = compare(args.a, args.b, args.tolerance)
    print(text(found, args.a, args.b, args.tolerance, every=args.all))
    return 0


def cmd_grids(args) -> int:
    from regbench.grid.parse import load_spec, shipped_grids

    for name in shipped_grids():
        print(f"{name:12} {load_spec(name).description}")
    return 0


def cmd_list(args) -> int:
    from regbench.grid.parse import load_spec
    from regbench.grid.stored import expand_stored
    from regbench.records.store import Store

    spec = load_spec(args.grid)
    store = Store(args.results, spec.name)
    # the store then checks each record it reads against its grid cell, selected or not
    expansion = expand_stored(spec, store, args.only or ())
    cells = expansion.cells
    stored = store.statuses(c.cell_id for c in cells)  # read and checked: a damaged record is todo
    failed = sum(status == "failed" for status in stored.values())
    print(f"{spec.name}: {len(cells)} cells; {len(stored)} stored in {store.dir} ({failed} failed)")
    print(cost_line(cells, expansion.pending))
    if args.estimate:
        print(estimate(cells, expansion.pending))
    from regbench.run.service import missing_here

    print(f"{'id':12}  {'status':7}  slug")
    absent: dict[str, int] = {}
    for c in cells:
        status = {"failed": "failed", "ok": "done"}.get(stored.get(c.cell_id, ""), "todo")
        lacks = missing_here(c, args.data_dir) if status == "todo" else []
        for line in lacks:
            absent[line] = absent.get(line, 0) + 1
        print(f"{c.cell_id:12}  {status:7}  {c.slug}" + (f"  (missing here: {', '.join(lacks)})" if lacks else ""))
    print("\ncells per technique set (rows) and dataset (columns):")
    print(count_table(cells))
    if expansion.pending:
        waiting = sum(len(p.seeds) for p in expansion.pending)
        print(
            f"\n{waiting} evaluation cells of {len(expansion.pending)} technique sets wait for their tuning cells "
            "([tuning] seeds): `regbench run` trains them once those are stored"
        )
    if expansion.excluded:
        print("\nleft out:")
        for e in expansion.excluded:
            print(f"  {e.dataset}: {e.what}: {e.reason}")
    if absent:
        print("\nnot on this machine (`regbench run --offline` would leave these cells out; README: Datasets):")
        for line, n in absent.items():
            print(f"  {line}: needed by {n} cells to run")
    return 0


def cost_line(cells, pending) -> str:
    """'cost: 2,508 cells (1,140 of them waiting for tuning), 11,532,000 optimizer steps'."""
    waiting = sum(len(p.seeds) for p in pending)
    steps = sum(c.total_steps for c in cells) + sum(p.tuning[0].total_steps * len(p.seeds) for p in pending)
    also = f" ({waiting:,} of them waiting for their tuning cells)" if waiting else ""
    return f"cost: {len(cells) + waiting:,} cells{also}, {steps:,} optimizer steps"


def estimate(cells, pending) -> str:
    """The grid's training time on this machine, from a timed step of each kind of cell (model,
    dataset, batch, technique set), one worker at a time; evaluations not counted."""
    from regbench.train.timing import seconds_per_step

    # Cells whose steps cost about the same share one timing: the same model, input shape and batch,
    # and the same techniques among those that add work to a step (layers of their own, an ImageNet body).
    costly = {"augmentation", "batchnorm", "dropout", "transfer"}
    kinds: dict[tuple, list] = {}
    for c in [*cells, *(p.tuning[0] for p in pending for _ in p.seeds)]:
        heavy = tuple(sorted(set(c.technique_names) & costly))
        kinds.setdefault((c.model, c.dataset, c.batch_size, heavy), []).append(c)
    total, lines, skipped = 0.0, [], 0
    for (model, dataset, batch, _), group in sorted(kinds.items()):
        try:
            per_step = seconds_per_step(group[0])
        except UsageError as exc:
            skipped += len(group)
            lines.append(f"  {model} on {dataset}, batch {batch}: {exc}")
            continue
        total += per_step * sum(c.total_steps for c in group)
    lines.insert(0, f"estimated training time here, one cell at a time: {total / 3600:.1f} h"
                    + (f" ({skipped:,} cells not timed)" if skipped else "") + " (evaluations and start-up not counted)")  # fmt: skip
    return "\n".join(dict.fromkeys(lines))


def count_table(cells) -> str:
    import pandas as pd

    frame = pd.DataFrame({"dataset": [c.dataset for c in cells], "set": [c.technique_set for c in cells]})
    table = pd.crosstab(frame["set"], frame["dataset"], margins=True, margins_name="total")
    return table.to_string()


def cmd_report(args) -> int:
    from regbench.grid.parse import load_spec
    from regbench.report.write import build_report

    spec = load_spec(args.grid)
    path = build_report(spec, args.results, args.out)
    print(f"report: {path}")
    print(f"tables: {args.results / spec.name / 'cells.csv'}, {args.results / spec.name / 'history.csv'}")
    return 0


def cmd_run(args) -> int:
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    from regbench.report.stale import write_if_stale
    from regbench.run.service import run_grid

    start, request = time.perf_counter(), run_request(args)
    try:
        outcome = run_grid(request)
    except TerminatedWorkerError as exc:  # killed, or a crash in native code (Dask retries instead)
        first_line = str(exc).strip().splitlines()[0]
        print(
            f"regbench: error: a worker process died ({first_line}); the cells it finished are stored, run the same command to resume",
            file=sys.stderr,
        )
        return 1
    spec, store, summary = outcome.spec, outcome.store, outcome.summary
    if store.stored_ids():
        path, written = write_if_stale(spec, args.results, args.out, ran=bool(summary))
        print(f"report: {path}" + ("" if written else " (up to date)"))
    ok, failed, not_stored = outcome.counts()
    print(
        f"{spec.name}: ran {summary.ran if summary else 0} cells in {time.perf_counter() - start:.1f} s"
        + (f" ({summary.by_others} more by another process on {store.dir})" if summary and summary.by_others else "")
        + f"; {ok} ok, {failed} failed, {not_stored} not stored"
    )
    if failed:
        print(
            f"failed cells: see `regbench list {args.grid}`; rerun one with `regbench cell ID --grid {args.grid}`",
            file=sys.stderr,
        )
    if outcome.missing_data:
        print(
            f"regbench: error: cells of {', '.join(sorted(outcome.missing_data))} were not run: data missing (see above)",
            file=sys.stderr,
        )
        return 2
    return 1 if failed else 0


def run_options(args, **more):
    from regbench.train.options import RunOptions

    precision = f"mixed_{args.mixed_precision}" if args.mixed_precision else "float32"
    return RunOptions(data_dir=args.data_dir, offline=args.offline, precision=precision, xla=args.xla, **more)


def run_request(args):
    """`regbench run`'s options as the run service's request (--backend is the old name of --executor)."""
    from regbench.run.service import RunRequest

    if args.backend:
        print(f"note: --backend is now --executor (--executor {args.backend})", file=sys.stderr)
    return RunRequest(
        grid=args.grid, results=args.results, only=tuple(args.only or ()), force=args.force,
        retry_failed=args.retry_failed, jobs=args.jobs, cells_per_gpu=args.cells_per_gpu,
        executor=args.backend or args.executor, scheduler=args.scheduler, options=run_options(args),
        verbose=args.verbose,
    )  # fmt: skip


def cmd_cell(args) -> int:
    from regbench.records.store import Store
    from regbench.run.service import find_cell, run_one

    spec, cell = find_cell(args.grid, args.cell, args.results)
    print(f"{cell.cell_id}  {cell.slug}")
    store = Store(args.results, spec.name)
    before = store.read(cell.cell_id) if cell.cell_id in store.stored_ids() else None
    record, path = run_one(spec, cell, args.results, run_options(args, verbose=1))
    print(result_table(record))
    if before is not None:
        print(replaced(before, record))
    print(f"stored: {path}")
    return 0 if record.ok else 1


def replaced(before, after) -> str:
    """How the new record of a cell compares with the one it replaced."""
    if not (before.final and after.final):
        return f"replaced a record with status {before.status} (now {after.status})"
    changes = [
        f"{split} accuracy {before.final[split]['accuracy']:.4f} -> {after.final[split]['accuracy']:.4f}"
        for split in ("train", "val", "test")
        if before.final[split]["accuracy"] != after.final[split]["accuracy"]
    ]
    same = (
        "the same final metrics"
        if not changes and before.final == after.final
        else "; ".join(changes) or "losses differ"
    )
    also = [
        k for k in ("git_revision", "versions", "device", "cpu", "numerics") if getattr(before, k) != getattr(after, k)
    ]
    return f"replaced the stored record: {same}" + (f" (also differs: {', '.join(also)})" if also else "")


def result_table(record) -> str:
    """A few lines: final loss/accuracy per split, the gaps, epochs and times."""
    lines = [f"status: {record.status}" + (f" ({record.error})" if record.error else "")]
    if record.final:
        lines.append(f"{'split':6} {'loss':>8} {'accuracy':>9}")
        for split, scores in record.final.items():
            lines.append(f"{split:6} {scores['loss']:8.4f} {scores['accuracy']:9.4f}")
        gap = record.gap
        lines.append(f"gap: accuracy (train - test) {gap['accuracy']:+.4f}, loss (test - train) {gap['loss']:+.4f}")
        lines.append(f"best evaluation {record.best_epoch} (step {record.best_step}) of {record.steps_run} steps run")
    for name, facts in record.mechanisms.items():
        lines.append(f"{name}: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
    lines.append(
        f"{record.params} parameters; {record.time_per_epoch_s} s per evaluation interval; {record.wall_time_s} s wall; {record.device}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

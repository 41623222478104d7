"""Whether a grid's report must be written again after a run, and writing it only then. Imports
the report's machinery (matplotlib, scipy: about 1.5 s) only when the report is rewritten, so a
resumed run with nothing new returns in a fraction of that."""

from __future__ import annotations

from pathlib import Path

from regbench.grid.spec import GridSpec
from regbench.records.store import Store


def write_if_stale(spec: GridSpec, results_root: Path, out_root: Path, ran: bool) -> tuple[Path, bool]:
    """After a run: (the report's path, whether it was written now). It is rewritten when cells ran,
    or when the grid file or the stored cells changed after it was written (adding, replacing or
    removing a cell file changes its folder's modification time)."""
    report = Path(out_root) / f"{spec.name}.md"
    cells = Store(results_root, spec.name).dir
    changed = max(cells.stat().st_mtime, Path(spec.path).stat().st_mtime)
    if ran or not report.is_file() or report.stat().st_mtime < changed:
        from regbench.report.write import build_report

        return build_report(spec, results_root, out_root), True
    return report, False

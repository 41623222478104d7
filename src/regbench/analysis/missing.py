"""Why a grid's cells or sections are missing from its results: not run yet, or their data is not
on this machine (looked up by name, never read). Never imports TensorFlow."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from regbench.grid.cell import Cell
from regbench.grid.spec import GridSpec


def not_run(spec: GridSpec, cells: pd.DataFrame, missing: Iterable[Cell]) -> dict[str, str]:
    """{section: why its missing cells are missing}: "not run yet" where some of its cells are
    stored (`cells`), else the data is not on this machine or the section was never run."""
    sections = {cell.section for cell in missing}
    out = {}
    for part in spec.sections:
        if part.section in sections:
            started = len(cells) and (cells["section"] == part.section).any()
            out[part.section] = "not run yet" if started else not_run_reason(spec, part)
    return out


def not_run_reason(spec: GridSpec, part: GridSpec, data_dir: Path | None = None) -> str:
    """'data missing (cifar10 not on this machine)', or 'not run yet (`regbench run ...`)'."""
    missing = missing_data(part, data_dir)
    if missing:
        return f"data missing ({', '.join(missing)} not on this machine)"
    where = f" --only '{part.section}/*'" if part.section else ""
    return f"not run yet (`regbench run {spec.name}{where}`)"


def missing_data(part: GridSpec, data_dir: Path | None = None) -> list[str]:
    """The datasets of a grid or section whose files are not on this machine (looked up by name,
    never read: a report stays fast whatever the data's size)."""
    from regbench.train.datasets import get_dataset

    return [entry.name for entry in part.datasets if not get_dataset(entry.name).on_this_machine(data_dir)]

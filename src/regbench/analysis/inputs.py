"""What a grid's analysis reads, read from the store once (Inputs): the grid, its cells as the
stored tuning cells resolve them, and the stored records of those cells as tables. Everything after
this (analysis/collect.py, the report) computes from this value and never opens a file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.grid.expand import Expansion
from regbench.grid.spec import GridSpec
from regbench.grid.stored import expand_stored
from regbench.records.store import Store


@dataclass(frozen=True)
class Inputs:
    spec: GridSpec
    expansion: Expansion  # the grid's cells, evaluation cells at the candidates their tuning cells chose
    stored: frozenset[str]  # ids with a usable cell file after reading (damaged ones moved aside), the grid's or not
    cells: pd.DataFrame  # aggregate.cells_frame of the grid's readable records (ok and failed)
    history: pd.DataFrame  # aggregate.history_frame of the same records
    environment: str  # library versions seen in the records, e.g. "keras 3.15.1, python 3.11.7"


def read_inputs(spec: GridSpec, results_root: Path) -> Inputs:
    """Read the stored records of the grid's cells, each checked against its grid cell (a damaged
    file is moved aside and counts as missing). The records themselves are dropped on return:
    millions of small objects slow every later garbage collection."""
    store = Store(results_root, spec.name)  # expand_stored makes it check each record against its grid cell
    expansion = expand_stored(spec, store)
    records = list(store.records(c.cell_id for c in expansion.cells).values())
    environment = ", ".join(sorted({f"{k} {v}" for r in records for k, v in r.versions.items()}))
    cells, history = agg.cells_frame(records), agg.history_frame(records)
    return Inputs(spec, expansion, frozenset(store.stored_ids()), cells, history, environment or "unknown")

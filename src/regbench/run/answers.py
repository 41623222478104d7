"""What a worker sends back, checked against the cell that was sent before anything is stored: a
record of another cell, of another cell's fields under this id, or with a field the analysis
could not read (validate.check_record on the record's stored form) becomes a failed record of the
cell that was sent, with an error saying why. A worker's strings never name a file."""

from __future__ import annotations

from typing import Any

import orjson

from regbench.grid.cell import Cell
from regbench.records.result import Result
from regbench.records.store import JSON_OPTIONS
from regbench.records.validate import Damaged, check_record, expect, short
from regbench.train.options import RunOptions
from regbench.train.runner import empty_record


def accepted(cell: Cell, record: Any, options: RunOptions) -> Result:
    """`record` if it is a valid record of `cell`, else a failed record of `cell` saying why."""
    try:
        expect(isinstance(record, Result), f"a {type(record).__name__}, not a record")
        # As the store will write and read it back: NaN becomes null, numpy scalars plain numbers.
        stored = orjson.loads(orjson.dumps(record.to_json(), option=JSON_OPTIONS))
        check_record(stored, cell.cell_id, cell.canonical())
        expect(stored["slug"] == cell.slug, f"slug {short(stored['slug'])}, not {cell.slug}")
        return record
    except (Damaged, TypeError, ValueError) as exc:  # orjson's errors are TypeErrors
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return empty_record(cell, options, "failed", f"the worker's record was rejected: {reason}")

"""Claims (locks) on cells are let go as soon as each cell is stored, not when the run ends: a second
run sharing the results folder sees a finished cell of a still-running first run and skips it
(run/loop.run_and_store). Cells "run" in a fake executor that the test paces; nothing trains."""

from __future__ import annotations

import threading
import time

from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.result import Result
from regbench.run import loop
from regbench.store import Store
from regbench.train.options import RunOptions
from tests.helpers import TINY_GRID
from tests.synthetic import synthetic_record

WAIT = 10.0  # s: the longest any step of the test waits for another


def test_a_second_run_skips_a_cell_the_first_stored_while_the_first_still_runs(write_grid, tmp_path, monkeypatch):
    first, second = expand(load_spec(str(write_grid(TINY_GRID)))).cells  # baseline and dropout
    received = threading.Event()  # the first run holds the first cell's claim
    stored = threading.Event()  # ... may store it now
    finish = threading.Event()  # ... may end (it is busy with its second cell until then)

    def executor(cells, options, plan):
        for cell in cells:
            if cell.cell_id == first.cell_id:
                received.set()
                assert stored.wait(WAIT)
            else:
                finish.wait(WAIT)
            yield Result.from_json(synthetic_record(cell))

    monkeypatch.setattr(loop, "results", executor)
    summaries = {}

    def run(name: str, cells: list) -> None:
        summaries[name] = loop.run_and_store(cells, Store(tmp_path / "results", "tiny"), RunOptions(), label=name)

    runs = {"first": threading.Thread(target=run, args=("first", [first, second])),
            "second": threading.Thread(target=run, args=("second", [first]))}  # fmt: skip
    runs["first"].start()
    try:
        assert received.wait(WAIT)
        runs["second"].start()  # finds the first cell claimed: waits for the first run to let go of it
        time.sleep(0.5)
        stored.set()
        runs["second"].join(WAIT / 2)
        # the second run ended while the first is still busy with its second cell
        assert not runs["second"].is_alive() and runs["first"].is_alive()
        assert (summaries["second"].ran, summaries["second"].by_others) == (0, 1)  # seen stored, not run again
    finally:
        stored.set()
        finish.set()
        for thread in runs.values():
            if thread.ident is not None:
                thread.join(WAIT)
    assert summaries["first"].ran == 2
    assert Store(tmp_path / "results", "tiny").stored_ids() == {first.cell_id, second.cell_id}

"""Claims (locks) on cells are let go as soon as each cell is stored, not when the run ends: a second
run sharing the results folder sees a finished cell of a still-running first run and skips it
(run/loop.run_and_store). Cells "run" in a fake executor that the test paces; nothing trains."""

from __future__ import annotations

import threading
import time

from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.records.result import Result
from regbench.records.store import Store
from regbench.run import loop
from regbench.train import compiled
from regbench.train.options import RunOptions
from tests.helpers import TINY_GRID
from tests.synthetic import synthetic_record

WAIT = 10.0  # s: the longest any step of the test waits for another


def test_a_second_run_skips_a_cell_the_first_stored_while_the_first_still_runs(write_grid, tmp_path, monkeypatch):
    # baseline and dropout, in the order the run hands them out (cells of a shape back to back)
    first, second = sorted(expand(load_spec(str(write_grid(TINY_GRID)))).cells, key=compiled.sort_key)
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


def record(cell_id: str) -> Result:
    return Result(cell_id, "s", {"dataset": "digits"})


def blocked_claim(store: Store, cell_id: str) -> tuple[threading.Thread, dict]:
    """A claim with `wait` in a thread of its own; its answer and when it came, once it has."""
    answer: dict = {}

    def claim() -> None:
        answer["claimed"] = store.claim(cell_id, wait=True)
        answer["at"] = time.monotonic()

    thread = threading.Thread(target=claim, daemon=True)
    thread.start()
    return thread, answer


def test_a_held_cell_is_refused_at_once_and_a_waiting_claim_waits_for_its_release(tmp_path):
    mine, theirs = Store(tmp_path, "g"), Store(tmp_path, "g")  # two processes sharing the folder
    assert mine.claim("a")
    start = time.monotonic()
    assert not theirs.claim("a") and time.monotonic() - start < 0.5  # held: refused without waiting
    thread, answer = blocked_claim(theirs, "a")
    time.sleep(1.5)
    assert thread.is_alive()  # still waiting, however long the holder takes
    released = time.monotonic()
    mine.release("a")  # let go without storing it (a failure): the waiting one takes it over
    thread.join(WAIT)
    assert answer["claimed"] and answer["at"] >= released
    theirs.release("a")
    mine.release("never claimed")  # releasing a cell this process does not hold is harmless


def test_a_stored_cell_is_never_claimed_and_a_waiting_claim_sees_it_stored(tmp_path):
    mine, theirs = Store(tmp_path, "g"), Store(tmp_path, "g")
    assert mine.claim("done")
    mine.write(record("done"))  # stored, its claim still held
    assert not mine.claim("done")
    thread, answer = blocked_claim(theirs, "done")
    thread.join(2)  # a stored cell is skipped at once, whoever holds its claim
    assert not thread.is_alive() and answer["claimed"] is False
    mine.release("done")
    assert mine.claim("b")
    thread, answer = blocked_claim(theirs, "b")
    time.sleep(0.5)
    mine.write(record("b"))
    mine.release("b")
    thread.join(WAIT)
    assert answer["claimed"] is False  # stored meanwhile by the process that held it: nothing to run
    # a forced rerun decided on the file as it was: it runs the cell, unless someone stored it since
    decided = theirs.version("done")
    assert theirs.claim("done", seen=decided)  # the file it decided to replace: to run again
    theirs.release_all()
    mine.write(record("done"))  # stored anew by another process meanwhile
    assert not theirs.claim("done", seen=decided)
    assert mine.claim("done", seen=mine.version("done"))  # release_all let go of every claim
    mine.release_all()

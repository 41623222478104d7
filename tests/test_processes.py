"""Processes that share a results folder, through real processes: a run that decided what to run
while another was storing never trains a cell twice, however long it then takes to load its data;
a starting run's clean-up never removes a live writer's temporary file; and the worker processes
of a SIGKILLed `regbench run --jobs 2` end with it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers import TINY_GRID

EIGHT_CELLS = TINY_GRID.replace("seeds = [1]", "seeds = [1, 2, 3, 4]")

# `regbench run` whose data check (after it decided what to run) takes `delay` seconds longer.
SLOW_DATA = """
import sys, time
import regbench.run.service as service
check_data = service.check_data
service.check_data = lambda *args: (time.sleep(float(sys.argv[1])), check_data(*args))[1]
from regbench.cli import main
sys.exit(main(sys.argv[2:]))
"""


def ran(out: str) -> int:
    return int(out.split(" ran ")[1].split(" cells")[0])


@pytest.mark.slow
def test_a_run_that_decided_while_another_was_storing_trains_no_cell_twice(write_grid, tmp_path):
    grid = write_grid(EIGHT_CELLS)
    args = ["run", str(grid), "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]
    first = subprocess.Popen([sys.executable, "-m", "regbench.cli", *args], stdout=subprocess.PIPE, text=True)
    cells = tmp_path / "results" / "tiny" / "cells"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(cells.glob("*.json")):
        time.sleep(0.05)
    # The second run decides now (one cell stored) and claims only after 8 s of "loading data",
    # by when the first has stored the others: those are done, not to be trained again.
    second = subprocess.run([sys.executable, "-c", SLOW_DATA, "8", *args], capture_output=True, text=True, timeout=300)
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert ran(out) + ran(second.stdout) == 8, (out, second.stdout)  # each cell trained once
    # it decided while cells remained (how many the first had stored by then depends on the machine)
    decided = re.search(r"(\d+) already stored, (\d+) to run", second.stdout)
    assert decided and int(decided[1]) + int(decided[2]) == 8 and int(decided[2]) >= 1, second.stdout
    assert len(list(cells.glob("*.json"))) == 8


WRITER = """
import os, sys, time
from pathlib import Path
from regbench.records import disk
fsync = os.fsync
def slow(fd):
    print("writing", flush=True)
    time.sleep(float(sys.argv[2]))
    fsync(fd)
disk.os.fsync = slow
disk.atomic_write(Path(sys.argv[1]), "whole\\n")
print("written", flush=True)
"""


def test_a_cleanup_never_removes_a_live_writers_temporary_file(tmp_path):
    from regbench.records.disk import TEMP_SUFFIX, remove_stale_temp_files

    target = tmp_path / "abc.json"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), "3"], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    (temp,) = tmp_path.glob(f".abc.json.{writer.pid}.*{TEMP_SUFFIX}")  # named by its writer's pid
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".abc.json.{dead.stdout.strip()}.x1y2{TEMP_SUFFIX}"  # a killed writer's
    stale.write_text("half")
    assert remove_stale_temp_files(tmp_path) == 1 and temp.exists() and not stale.exists()
    assert writer.stdout.readline().strip() == "written" and writer.wait(timeout=30) == 0
    assert target.read_text() == "whole\n" and not list(tmp_path.glob(".*"))


def descendants(pid: int) -> list:
    import psutil

    return psutil.Process(pid).children(recursive=True)


@pytest.mark.slow
def test_the_workers_of_a_killed_run_end_with_it(write_grid, tmp_path):
    import psutil

    grid = write_grid(EIGHT_CELLS.replace("epochs = 3", "epochs = 200"))  # cells of a minute or so
    command = [sys.executable, "-m", "regbench.cli", "run", str(grid), "--jobs", "2",
               "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]  # fmt: skip
    main = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    workers: list = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = [p for p in descendants(main.pid) if "popen_loky" in " ".join(p.cmdline())]
        time.sleep(0.2)
    assert len(workers) == 2
    time.sleep(5)  # inside their first cells
    family = descendants(main.pid)  # the workers and the resource trackers
    main.send_signal(signal.SIGKILL)
    main.wait()
    gone, alive = psutil.wait_procs(family, timeout=20)
    for p in alive:  # never leave them behind, even when the test fails
        p.kill()
    assert not alive, [" ".join(p.cmdline())[:80] for p in alive]


def test_end_with_parent_exits_an_orphan_within_a_second(tmp_path):
    """The watchdog alone: a grandchild whose parent dies exits, while its parent lives it runs."""
    code = textwrap.dedent("""
        import os, sys, time
        if os.fork() == 0:  # the "worker"
            from regbench.run.workers import end_with_parent
            end_with_parent(0.1)
            print(os.getpid(), flush=True)
            time.sleep(60)
            os._exit(0)
        time.sleep(float(sys.argv[1]))  # the "parent" lives this long, then dies
        os._exit(0)
    """)
    parent = subprocess.Popen([sys.executable, "-c", code, "1.5"], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    time.sleep(0.5)
    os.kill(worker, 0)  # alive while its parent is
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{worker}").exists() and "Z" not in state(worker):
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists() or "Z" in state(worker)


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


_HELD: list[bytes] = []  # what a worker test task keeps, as a worker keeps its compiled models


def grow_and_tell(mb: int, raise_limit: bool) -> int:
    """In a loky worker: hold `mb` more MB (touched, so resident) and return this process's pid."""
    if raise_limit:
        from regbench.run.workers import allow_kept_models

        allow_kept_models()
    _HELD.append(b"x" * (mb * 1_000_000))
    time.sleep(1.2)  # loky checks memory at most once a second, after a task
    return os.getpid()


@pytest.mark.filterwarnings("ignore:A worker stopped while some jobs")  # loky's word for the recycle
@pytest.mark.parametrize("raise_limit", [True, False])
def test_a_worker_keeping_its_models_is_not_recycled_as_a_leak(raise_limit):
    """loky replaces a worker that grew by 300 MB since its first task (its leak check); a local
    worker raises that limit, so the compiled models it keeps survive from one task to the next.
    The False case shows the check this guards against still exists in the installed loky."""
    pytest.importorskip("psutil")  # loky checks memory only with psutil
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=1, kill_workers=True)  # one worker: every task in it
    try:
        pids = [executor.submit(grow_and_tell, mb, raise_limit).result() for mb in (10, 200, 200, 10)]
    finally:
        executor.shutdown(wait=True, kill_workers=True)
    assert (len(set(pids)) == 1) == raise_limit, pids


def test_a_run_removes_what_a_killed_writer_left_in_the_cells_folder(write_grid, tmp_path):
    """Every cell stored, nothing to train: the run still removes a killed writer's temporary file
    from the cells folder, and leaves a live writer's (this process's) alone."""
    from regbench.grid.expand import expand
    from regbench.grid.parse import load_spec
    from regbench.records.disk import TEMP_SUFFIX
    from regbench.records.store import Store
    from regbench.run.service import RunRequest, run_grid
    from tests.synthetic import write_synthetic

    grid = write_grid()
    store = Store(tmp_path / "results", "tiny")
    write_synthetic(list(expand(load_spec(str(grid))).cells), store)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = store.dir / f".x.json.{dead.stdout.strip()}.a1b2{TEMP_SUFFIX}"
    live = store.dir / f".y.json.{os.getpid()}.c3d4{TEMP_SUFFIX}"
    stale.write_text("half")
    live.write_text("half")
    outcome = run_grid(RunRequest(str(grid), results=tmp_path / "results"))
    assert outcome.summary is None and outcome.counts() == (2, 0, 0)
    assert not stale.exists() and live.exists()

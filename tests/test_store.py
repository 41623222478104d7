"""A damaged cell file (cut short, empty, another schema, another cell's record) never stops
`list`, `report` or `run`: it is moved aside with one warning line, counted as missing, and
recomputed by the next run. Likewise a damaged pretrained backbone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from regbench.cli import main
from regbench.records.store import Store

DAMAGE = {
    "cut short": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "another schema": lambda text: json.dumps({"rows": [1, 2, 3]}) + "\n",
    "another cell's record": lambda text: text.replace('"cell_id": "', '"cell_id": "0', 1),
    "not text": lambda text: "\udcff",
}


def regbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "regbench.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def stored_grid(tmp_path_factory):
    """A tiny grid run once; each test copies its results."""
    from tests.helpers import TINY_GRID

    folder = tmp_path_factory.mktemp("stored")
    grid = folder / "tiny.toml"
    grid.write_text(TINY_GRID)
    assert main(["run", str(grid), "--results", str(folder / "results"), "--out", str(folder / "reports")]) == 0
    return grid, folder / "results"


@pytest.mark.parametrize("damage", ["cut short", "empty", "another schema"])
@pytest.mark.slow
def test_a_damaged_cell_file_is_moved_aside_and_recomputed(damage, stored_grid, tmp_path):
    import shutil

    grid, source = stored_grid
    results = tmp_path / "results"
    shutil.copytree(source, results)
    store = Store(results, "tiny")
    victim = sorted(store.stored_ids())[0]
    path = store.path(victim)
    path.write_text(DAMAGE[damage](path.read_text()), errors="surrogateescape")

    listing = regbench("list", str(grid), "--results", str(results))
    report = regbench("report", str(grid), "--results", str(results), "--out", str(tmp_path / "reports"))
    for proc in (listing, report):
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    warned = listing.stderr + report.stderr
    assert warned.count("is damaged") == 1 and str(path) in warned  # one line, naming the file
    (moved,) = (results / "tiny" / "cells" / "damaged").glob(f"{victim}.*.json")  # kept, never deleted
    assert victim not in store.stored_ids()
    assert "1 missing" in (tmp_path / "reports" / "tiny.md").read_text()

    rerun = regbench("run", str(grid), "--results", str(results), "--out", str(tmp_path / "reports"))
    assert rerun.returncode == 0 and "1 to run" in rerun.stdout
    assert store.read(victim).ok


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_kind_of_damage_reads_as_missing_with_one_warning(damage, stored_grid, tmp_path, capsys):
    import shutil

    _, source = stored_grid
    shutil.copytree(source, tmp_path / "results")
    store = Store(tmp_path / "results", "tiny")
    victim = sorted(store.stored_ids())[0]
    path = store.path(victim)
    path.write_text(DAMAGE[damage](path.read_text()), errors="surrogateescape")
    assert store.read(victim) is None and victim not in store.stored_ids()
    assert capsys.readouterr().err.count("is damaged") == 1
    assert len(list(store.results())) == len(store.stored_ids()) == 1


def test_run_moves_aside_a_cut_short_file_before_deciding_what_to_run(stored_grid, tmp_path):
    import shutil

    grid, source = stored_grid
    results = tmp_path / "results"
    shutil.copytree(source, results)
    store = Store(results, "tiny")
    victim = sorted(store.stored_ids())[1]
    store.path(victim).write_text(store.path(victim).read_text()[:-40])
    proc = regbench("run", str(grid), "--results", str(results), "--out", str(tmp_path / "reports"))
    assert proc.returncode == 0 and "1 already stored, 1 to run" in proc.stdout, proc.stdout + proc.stderr
    assert "is damaged (cut short)" in proc.stderr and store.read(victim).ok


def test_a_damaged_backbone_is_moved_aside_and_pretrained_again(tmp_path, capsys):
    from regbench.train import pretrained

    folder = tmp_path / "pretrained" / "abc"
    folder.mkdir(parents=True)
    (folder / "pretrain.json").write_text('{"arrays_per_layer": [2]}')
    (folder / "weights.npz").write_bytes(b"PK\x03\x04 cut short")
    assert pretrained.read(folder) is None
    assert "backbone" in capsys.readouterr().err and not folder.exists()
    assert len(list((tmp_path / "pretrained" / "damaged").iterdir())) == 1
    assert pretrained.read(tmp_path / "pretrained" / "none") is None  # absent: nothing to say


def test_store_reads_its_own_records_back(tmp_path):
    from regbench.records.result import Result
    from tests.helpers import tiny_cell

    store, cell = Store(tmp_path, "g"), tiny_cell()
    history = {"train": {"loss": [1.0, float("nan")]}}  # a failed cell's NaN loss
    record = Result(cell.cell_id, cell.slug, cell.canonical(), "failed", "loss became NaN", history=history)
    store.write(record)
    back = store.read(cell.cell_id)
    assert back.cell == record.cell and back.history["train"]["loss"] == [1.0, None]  # NaN is stored as null
    assert Path(store.path(cell.cell_id)).read_text().endswith("}\n")


@pytest.mark.slow
def test_two_runs_on_one_results_folder_divide_the_cells(write_grid, tmp_path):
    """Two `regbench run` started together: no cell trained twice, both end with the grid complete."""
    from tests.helpers import TINY_GRID

    grid = write_grid(TINY_GRID.replace("seeds = [1]", "seeds = [1, 2, 3]"))
    command = [sys.executable, "-m", "regbench.cli", "run", str(grid), "--results", str(tmp_path / "results"),
               "--out", str(tmp_path / "reports")]  # fmt: skip
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ran = [int(out.split("ran ")[1].split(" cells")[0]) for out, _ in outs]
    assert sum(ran) == 6, outs  # each of the 6 cells trained exactly once, by one or the other
    assert len(Store(tmp_path / "results", "tiny").stored_ids()) == 6
    assert all("not stored" in out and ", 0 not stored" in out for out, _ in outs)  # both end complete


def test_the_claim_of_a_killed_process_is_taken_over(tmp_path):
    """A process that dies holding a cell's claim (SIGKILL: no clean-up runs) does not block it."""
    import signal

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from regbench.records.store import Store; "
         f"s = Store({str(tmp_path)!r}, 'g'); assert s.claim('abc'); print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    store = Store(tmp_path, "g")
    assert not store.claim("abc")  # held by a live process
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert store.claim("abc") and not Store(tmp_path, "g").claim("abc")  # taken over, and held now
    store.release("abc")


def test_a_full_disk_ends_the_run_with_one_line_and_a_rerun_resumes(write_grid, tmp_path, monkeypatch, capsys):
    import errno

    from regbench.records import store as store_module
    from tests.helpers import TINY_GRID

    grid = write_grid(TINY_GRID.replace("seeds = [1]", "seeds = [1, 2]"))
    args = ["run", str(grid), "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]
    real, writes = store_module.atomic_write, []

    def fills_up(path, content):
        if len(writes) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        writes.append(path)
        real(path, content)

    monkeypatch.setattr(store_module, "atomic_write", fills_up)
    assert main(args) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("regbench")]  # no progress bar
    cells = tmp_path / "results" / "tiny" / "cells"
    assert err == [f"regbench: error: cannot write results to {cells} (No space left on device); the cells stored "
                   "before are kept, run the same command to resume"]  # fmt: skip
    assert len(list(cells.glob("*.json"))) == 2 and not list(cells.glob(".*"))  # intact, no temp files
    monkeypatch.setattr(store_module, "atomic_write", real)
    assert main(args) == 0 and "2 already stored, 2 to run" in capsys.readouterr().out


def test_compare_names_what_differs_and_why(write_grid, tmp_path, capsys):
    from regbench.grid.expand import expand
    from regbench.grid.parse import load_spec
    from regbench.records.result import Result
    from tests.helpers import TINY_GRID
    from tests.synthetic import synthetic_record

    spec = load_spec(str(write_grid(TINY_GRID.replace("seeds = [1]", "seeds = [1, 2, 3]"))))
    a, b = Store(tmp_path / "a", "tiny"), Store(tmp_path / "b", "tiny")
    cells = list(expand(spec).cells)
    for i, cell in enumerate(cells):
        record = Result.from_json(synthetic_record(cell))
        a.write(record)
        if i == 0:  # another machine: a CPU without AVX-512 rounded differently
            final = record.final | {
                "test": record.final["test"] | {"accuracy": record.final["test"]["accuracy"] + 0.02}
            }
            record = record.but(final=final, cpu={"model": "other", "flags": ["avx2"], "onednn": True})
        if i < len(cells) - 1:  # the last cell only in A
            b.write(record)
    assert main(["compare", str(tmp_path / "a" / "tiny"), str(tmp_path / "b" / "tiny")]) == 0
    out = capsys.readouterr().out
    assert "cells: 5 in both, 1 only in A, 0 only in B" in out
    assert "differ by more than 0.005 in 1 of 5 cells" in out and cells[0].slug in out and "test_accuracy" in out
    assert (
        "what else differs in those records: cpu (B only: avx2; model None vs other; oneDNN None in A, True in B): 1 cells"
        in out
    )
    assert "effects against the baseline (tuned arms): " in out and "95% CIs overlap in" in out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b" / "tiny")]) == 2  # not a grid's folder
    assert "allowed: a folder with cells/ in it" in capsys.readouterr().err


def test_compare_of_a_folder_without_cells_is_one_line_and_exit_2(tmp_path, capsys):
    from regbench.cli import main

    assert main(["compare", str(tmp_path), str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{tmp_path}: not a results folder of a grid; allowed: a folder with cells/" in err

"""Nothing read from the results store is trusted: every kind of damaged or hostile cell file (a
field of the wrong type, non-finite results, another cell's record under this id, a path where an
id belongs, a folder, a FIFO, a symbolic link, an unreadable file, a `cells/damaged` that is a
file) is one warning naming the file, never a traceback or a hang; it is moved aside, counts as
missing in `list`, `report` and `compare`, and `run` recomputes it. Record strings never become
paths: a report's figures and a worker's answers stay inside their folders."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from regbench.cli import main
from regbench.records.store import Store

GRID = """
seeds = [1, 2]
models = ["mlp"]
[budget]
epochs = 2
batch_size = 32
[design]
baseline = true
[[datasets]]
name = "digits"
train_sizes = [60]
val_size = 60
"""


def edit(change):
    """A kind of damage that edits the victim's record (a dict; `other` is seed 2's record)."""

    def damage(path: Path, other: dict) -> None:
        record = json.loads(path.read_text())
        record = change(record, other) or record
        path.write_text(json.dumps(record, indent=2) + "\n")  # NaN and Infinity as JSON's bare tokens

    return damage


def nested(keys: str, value):
    def change(record: dict, other: dict) -> None:
        *parents, last = keys.split(".")
        target = record
        for key in parents:
            target = target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value

    return change


DELETE = object()


def both(*changes):
    return lambda record, other: [change(record, other) for change in changes] and None


def fifo(path: Path, other: dict) -> None:
    path.unlink()
    os.mkfifo(path)


def directory(path: Path, other: dict) -> None:
    path.unlink()
    path.mkdir()


def unix_socket(path: Path, other: dict) -> None:
    """A socket cannot be opened at all (ENXIO), unlike a FIFO."""
    path.unlink()
    here = os.getcwd()
    os.chdir(path.parent)  # bound by its name in its folder: a socket's address is at most 107 bytes
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(path.name)
    finally:
        os.chdir(here)


def dangling_link(path: Path, other: dict) -> None:
    path.unlink()
    path.symlink_to(path.parent / "gone.json")


def link_to_a_record(path: Path, other: dict) -> None:
    """A link to an intact copy elsewhere: a link is never followed, whatever it points to."""
    copy = path.parent.parent / "copy.json"
    path.rename(copy)
    path.symlink_to(copy)


def unreadable(path: Path, other: dict) -> None:
    path.chmod(0)  # root reads it anyway: the test also makes reading it fail (see below)


def damaged_is_a_file(path: Path, other: dict) -> None:
    path.write_text(path.read_text()[:100])
    (path.parent / "damaged").write_text("not a folder")


DAMAGE = {
    "final is a string": edit(nested("final", "oops")),
    "final without test": edit(nested("final.test", DELETE)),
    "cell is a number": edit(nested("cell", 5)),
    "cell without dataset": edit(nested("cell.dataset", DELETE)),
    "history is a list": edit(nested("history", [1, 2, 3])),
    "a history value is a string": edit(lambda r, o: r["history"]["train"]["loss"].__setitem__(0, "x")),
    "schema is a string": edit(nested("schema", "three")),
    "schema of a later release": edit(nested("schema", 99)),
    "gap is null in an ok record": edit(nested("gap", None)),
    "NaN metrics": edit(both(nested("final.test.accuracy", math.nan), nested("gap.accuracy", math.nan))),
    "infinite metrics": edit(both(nested("final.train.accuracy", math.inf), nested("gap.accuracy", math.inf))),
    "a mechanism without triggered": edit(nested("mechanisms", {"early_stopping": {}})),
    "seed 2's record under seed 1's id": edit(lambda r, other: other | {"cell_id": r["cell_id"]}),
    "cell_id is a path": edit(nested("cell_id", "../../../outside/x")),
    "dataset is a path": edit(nested("cell.dataset", "/../../../outside/canary")),
    "a directory": directory,
    "a FIFO": fifo,
    "a socket": unix_socket,
    "a dangling symbolic link": dangling_link,
    "a symbolic link to a record": link_to_a_record,
    "an unreadable file": unreadable,
    "cells/damaged is a file": damaged_is_a_file,
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The 2-cell grid run once: (grid file, results folder, seed 1's id, seed 2's id)."""
    folder = tmp_path_factory.mktemp("stored")
    grid = folder / "tiny.toml"
    grid.write_text(textwrap.dedent(GRID))
    assert main(["run", str(grid), "--results", str(folder / "results"), "--out", str(folder / "reports")]) == 0
    records = [json.loads(p.read_text()) for p in (folder / "results" / "tiny" / "cells").glob("*.json")]
    by_seed = {r["cell"]["seed"]: r["cell_id"] for r in records}
    return grid, folder / "results", by_seed[1], by_seed[2]


def damaged_copy(kind: str, stored, tmp_path: Path, monkeypatch) -> tuple[Path, Path, Path]:
    """(grid, results, victim's path) of a copy of the stored results with seed 1's cell damaged."""
    grid, source, victim, other = stored
    results = tmp_path / "results"
    shutil.copytree(source, results)
    store = Store(results, "tiny")
    path = store.path(victim)
    DAMAGE[kind](path, json.loads(store.path(other).read_text()))
    if kind == "an unreadable file" and os.geteuid() == 0:  # root ignores mode 000: refuse as the kernel would
        from regbench.records import disk

        real, inode = disk.os.open, path.stat().st_ino

        def refuse(name, *args, **kwargs):  # that file only, not a record written there later
            if Path(name) == path and os.path.exists(path) and path.stat().st_ino == inode:
                raise PermissionError(13, "Permission denied", str(name))
            return real(name, *args, **kwargs)

        monkeypatch.setattr(disk.os, "open", refuse)
    return grid, results, path


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "is damaged" in line]


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damage_is_one_warning_moved_aside_and_counted_missing(kind, stored, tmp_path, monkeypatch, capsys):
    grid, results, path = damaged_copy(kind, stored, tmp_path, monkeypatch)
    victim, movable = path.stem, kind != "cells/damaged is a file"

    assert main(["list", str(grid), "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert "tiny: 2 cells; 1 stored" in out and f"{victim}  todo" in out, out
    (warning,) = warnings(err)  # one line, naming the file
    assert str(path) in warning and ("moved to" in warning if movable else "cannot move it" in warning)
    if kind in ("a directory", "a FIFO", "a socket"):
        assert f"is damaged ({kind})" in warning  # what it is, not the system's error on opening it
    assert os.path.lexists(path) != movable  # moved aside (or, where it cannot be, left and ignored)
    if movable:
        assert len(list((path.parent / "damaged").iterdir())) == 1  # kept, never deleted

    assert main(["report", str(grid), "--results", str(results), "--out", str(tmp_path / "reports")]) == 0
    _, err = capsys.readouterr()
    assert len(warnings(err)) == (0 if movable else 1)
    report = (tmp_path / "reports" / "tiny.md").read_text()
    assert "2 in the grid; 1 ok, 0 failed, 1 missing" in report and victim in report
    assert not re.search(r"\b(inf|nan)\b", report.lower())  # never an inf% or a NaN in a table

    assert main(["compare", str(results / "tiny"), str(stored[1] / "tiny")]) == 0
    assert "cells: 1 in both, 0 only in A, 1 only in B" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_run_recomputes_a_damaged_cell(kind, stored, tmp_path, monkeypatch, capsys):
    grid, results, path = damaged_copy(kind, stored, tmp_path, monkeypatch)
    argv = ["run", str(grid), "--results", str(results), "--out", str(tmp_path / "reports")]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "1 already stored, 1 to run" in out and "ran 1 cells" in out and "2 ok, 0 failed, 0 not stored" in out
    assert len(warnings(err)) == 1 and "Traceback" not in err
    assert not path.is_symlink() and path.is_file()
    record = json.loads(path.read_text())
    assert record["cell_id"] == path.stem and record["status"] == "ok" and record["cell"]["seed"] == 1


def test_nan_in_both_folders_counts_as_differing(stored, tmp_path, capsys):
    """compare: a NaN metric is never equal to anything, NaN included (it is not read as ok either)."""
    from regbench.analysis.compare import differing_cells
    from regbench.records.result import Result

    _, results, victim, _ = stored
    record = Result.from_json(json.loads(Store(results, "tiny").path(victim).read_text()))
    nan = record.but(final=record.final | {"test": record.final["test"] | {"accuracy": math.nan}})
    found = differing_cells({victim: nan}, {victim: nan}, 0.005)
    assert found["cell_id"].tolist() == [victim] and found["metric"].tolist() == ["test_accuracy"]
    assert differing_cells({victim: record}, {victim: record}, 0.005).empty


def test_a_fifo_never_blocks_a_real_process(stored, tmp_path):
    """`list` in a process of its own, with a FIFO where a cell file belongs: done in seconds."""
    grid, results, path = damaged_copy("a FIFO", stored, tmp_path, None)
    proc = subprocess.run(
        [sys.executable, "-m", "regbench.cli", "list", str(grid), "--results", str(results)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and "1 stored" in proc.stdout and len(warnings(proc.stderr)) == 1


def test_figure_names_never_leave_the_report_folder(tmp_path):
    """A condition's parts reach figure file names only through names.file_part."""
    from regbench.names import file_part

    for hostile in ("/../../../tmp/x_n40_mlp", "..", ".hidden", "a/b\\c", "x\0y"):
        name = file_part(hostile)
        assert "/" not in name and not name.startswith(".") and (tmp_path / name).parent == tmp_path
    assert (
        file_part("learning_curves_A-cpu_digits_imb2.5_n40_mlp.png")
        == "learning_curves_A-cpu_digits_imb2.5_n40_mlp.png"
    )

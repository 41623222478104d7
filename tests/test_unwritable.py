"""Bad options and places that cannot be written: one line naming the option or the path, no
traceback, exit 2 for a bad option (checked before anything is computed), exit 1 for a folder
that cannot be written (read-only, a full disk, a claim's lock file this user cannot write), with
every stored cell kept."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from regbench.cli import main
from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.records.store import Store
from tests.helpers import TINY_GRID, obey_permissions, permissions_apply
from tests.synthetic import write_synthetic

GRID = TINY_GRID.replace("seeds = [1]", "seeds = [1, 2]")


@pytest.fixture
def stored(write_grid, tmp_path):
    """(grid file, results folder) with every cell but the last stored (synthetic records)."""
    grid = write_grid(GRID)
    cells = list(expand(load_spec(str(grid))).cells)
    write_synthetic(cells[:-1], Store(tmp_path / "results", "tiny"))
    (tmp_path / "afile").write_text("not a folder")
    return grid, tmp_path / "results"


BAD_OPTIONS = {
    "tolerance NaN": (["compare", "R/tiny", "R/tiny", "--tolerance", "nan"], "--tolerance", "a finite number >= 0"),
    "negative tolerance": (["compare", "R/tiny", "R/tiny", "--tolerance", "-1"], "--tolerance", "a finite number >= 0"),
    "empty --only (run)": (["run", "G", "--results", "R", "--only", ""], "--only", "a glob of slugs or an id prefix"),
    "empty --only (list)": (["list", "G", "--results", "R", "--only", ""], "--only", "a glob of slugs or an id prefix"),
    "report --results a file": (["report", "G", "--results", "afile"], "--results", "afile is a file, not a folder"),
    "report --out below a file": (["report", "G", "--results", "R", "--out", "afile/sub"], "--out", "afile is a file"),
    "run --results a file": (["run", "G", "--results", "afile"], "--results", "afile is a file, not a folder"),
    "run --out a file": (["run", "G", "--results", "R", "--out", "afile"], "--out", "afile is a file, not a folder"),
    "list --results below a file": (["list", "G", "--results", "afile/sub"], "--results", "afile is a file"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_a_bad_option_is_one_line_and_exit_2(case, stored, tmp_path, monkeypatch, capsys):
    grid, results = stored
    argv, option, allowed = BAD_OPTIONS[case]
    monkeypatch.chdir(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        main([{"G": str(grid), "R": str(results), "R/tiny": str(results / "tiny")}.get(a, a) for a in argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and option in err and allowed in err, err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing computed, nothing written


def test_a_full_disk_during_report_is_one_line_and_exit_1(stored, tmp_path, monkeypatch, capsys):
    from regbench.report import plots, write

    grid, results = stored

    def full(path, content):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(write, "atomic_write", full)
    monkeypatch.setattr(plots, "atomic_write", full)
    assert main(["report", str(grid), "--results", str(results), "--out", str(tmp_path / "reports")]) == 1
    (err,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("regbench")]
    assert err.startswith("regbench: error: cannot write the report or its tables to ") and "No space left" in err
    assert len(Store(results, "tiny").stored_ids()) == 3  # every stored cell kept


def test_a_full_disk_during_runs_report_step_is_one_line_and_exit_1(stored, tmp_path, monkeypatch, capsys):
    from regbench.report import plots

    grid, results = stored
    monkeypatch.setattr(plots, "atomic_write", lambda path, content: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device", str(path))))  # fmt: skip
    assert (
        main(["run", str(grid), "--only", "*/baseline/*", "--results", str(results), "--out", str(tmp_path / "o")]) == 1
    )
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("regbench")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and "run the same command to resume" in errors[0]
    assert not list((tmp_path / "o").rglob("*.png"))  # nothing half-written


def regbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a process that obeys permission bits (as root too)."""
    command = [sys.executable, "-m", "regbench.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, preexec_fn=obey_permissions, timeout=300)


UNWRITABLE = {
    "report --results read-only": (["report", "G", "--results", "R"], "R/tiny", "cannot write the report or its tables"),
    "report --out read-only": (["report", "G", "--results", "R", "--out", "ro"], "ro", "cannot write the report"),
    "run --results read-only": (["run", "G", "--results", "R", "--out", "o"], "R/tiny", "cannot take the claim"),
    "run --out read-only": (["run", "G", "--results", "R", "--out", "ro", "--only", "*/baseline/*"], "ro", "cannot write the report"),
    "run with a claim this user cannot write": (["run", "G", "--results", "R", "--out", "o"], "LOCK", "cannot take the claim"),
}  # fmt: skip


@pytest.mark.skipif(not permissions_apply(), reason="permission bits cannot be made to apply to a child here")
@pytest.mark.parametrize("case", sorted(UNWRITABLE))
def test_a_folder_that_cannot_be_written_is_one_line_and_exit_1(case, stored, tmp_path):
    grid, results = stored
    argv, locked, said = UNWRITABLE[case]
    (tmp_path / "ro").mkdir()
    missing = list(expand(load_spec(str(grid))).cells)[-1].cell_id
    lock = results / "tiny" / "claims" / f"{missing}.lock"
    if locked == "LOCK":
        lock.parent.mkdir(parents=True)
        lock.write_text("")
        target = lock
    else:
        target = tmp_path / "ro" if locked == "ro" else results / "tiny"
    modes = {p: p.stat().st_mode for p in [target, *target.rglob("*")]}
    for p in modes:
        p.chmod(0o444 if p.is_file() else 0o555)
    try:
        proc = regbench(*[{"G": str(grid), "R": str(results)}.get(a, a) for a in argv], cwd=tmp_path)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("regbench")]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1 and said in errors[0] and (str(target) in errors[0] or f" {target.name}" in errors[0]), (
        errors
    )
    assert len(Store(results, "tiny").stored_ids()) == 3 and os.path.isdir(results / "tiny" / "cells")

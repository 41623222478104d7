"""The commands end to end on tiny grids: run, resume, --force, --only, failures, list, cell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regbench.cli import main
from regbench.train.datasets import files, load_raw
from regbench.train.options import RunOptions
from tests.helpers import TINY_GRID, numbers, tiny_cell

# TINY_GRID plus moons trained with a learning rate that turns the loss into NaN.
WITH_FAILURE = (
    TINY_GRID
    + """
[[datasets]]
name = "moons"
train_sizes = [30]
optimizer = "sgd"
learning_rate = 1e12
"""
)


def stored(results: Path, grid: str = "tiny") -> dict[str, dict]:
    folder = results / grid / "cells"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


@pytest.mark.backend
def test_run_then_resume_force_and_only(write_grid, tmp_path, capsys):
    grid, results = write_grid(), tmp_path / "results"
    assert main(["run", str(grid), "--results", str(results), "--out", str(results / "reports")]) == 0
    first = stored(results)
    assert len(first) == 2 and all(r["status"] == "ok" for r in first.values())
    mtimes = {p: p.stat().st_mtime_ns for p in (results / "tiny" / "cells").glob("*.json")}

    assert (
        main(["run", str(grid), "--results", str(results), "--out", str(results / "reports")]) == 0
    )  # resume: nothing to do
    out = capsys.readouterr().out
    assert "2 already stored, 0 to run" in out and "(up to date)" in out  # the report is not rebuilt
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes

    assert (
        main(
            [
                "run",
                str(grid),
                "--results",
                str(results),
                "--out",
                str(results / "reports"),
                "--force",
                "--only",
                "*/dropout/*",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "1 to run" in out and "ran 1 cells" in out and "(up to date)" not in out
    changed = [p for p in mtimes if p.stat().st_mtime_ns != mtimes[p]]
    assert len(changed) == 1 and "dropout" in json.loads(changed[0].read_text())["slug"]
    assert numbers(stored(results)[changed[0].stem]) == numbers(first[changed[0].stem])


def test_failed_cell_does_not_stop_the_grid(write_grid, tmp_path, capsys):
    results = tmp_path / "results"
    assert (
        main(["run", str(write_grid(WITH_FAILURE)), "--results", str(results), "--out", str(results / "reports")]) == 1
    )
    records = stored(results)
    assert len(records) == 4
    status = {r["slug"]: r["status"] for r in records.values()}
    assert [s for slug, s in status.items() if slug.startswith("digits")] == ["ok", "ok"]
    assert [s for slug, s in status.items() if slug.startswith("moons")] == ["failed", "failed"]
    captured = capsys.readouterr()
    assert "2 ok, 2 failed" in captured.out and "NaN" in captured.err


def test_retry_failed_recomputes_failed_cells_only(write_grid, tmp_path, capsys):
    grid, results = write_grid(WITH_FAILURE), tmp_path / "results"
    args = ["run", str(grid), "--results", str(results), "--out", str(results / "reports")]
    assert main(args) == 1
    before = {p.name: p.stat().st_mtime_ns for p in (results / "tiny" / "cells").glob("*.json")}
    capsys.readouterr()
    assert main(args) == 1  # a stored cell, failed or not, is skipped by default
    assert "4 already stored, 0 to run" in capsys.readouterr().out
    assert main([*args, "--retry-failed"]) == 1
    assert "2 already stored, 2 to run" in capsys.readouterr().out
    after = {p.name: p.stat().st_mtime_ns for p in (results / "tiny" / "cells").glob("*.json")}
    rewritten = {name for name in before if after[name] != before[name]}
    assert {stored(results)[name[:-5]]["status"] for name in rewritten} == {"failed"} and len(rewritten) == 2


def test_list_shows_cells_status_counts_and_exclusions(write_grid, tmp_path, capsys):
    grid = write_grid(WITH_FAILURE.replace('models = ["mlp"]', 'models = ["mlp", "small_cnn"]'))
    assert main(["list", str(grid), "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "tiny: 6 cells; 0 stored" in out
    assert out.count("todo") == 6 and "digits/n60/small_cnn/dropout/s1" in out
    assert "moons: model small_cnn: accepts image data; moons is tabular" in out
    assert "total" in out  # the count table


def test_cell_reruns_and_stores_one_cell(write_grid, tmp_path, capsys):
    grid, results = write_grid(), tmp_path / "results"
    assert main(["cell", "digits/n60/mlp/dropout/s1", "--grid", str(grid), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "epoch 3/3 (step 6)" in out and "gap: accuracy (train - test)" in out and "test " in out
    (record,) = stored(results).values()
    assert main(["cell", record["cell_id"][:6], "--grid", str(grid), "--results", str(results)]) == 0
    assert numbers(stored(results)[record["cell_id"]]) == numbers(record)
    assert "replaced the stored record: the same final metrics" in capsys.readouterr().out
    steps = TINY_GRID.replace("epochs = 3", "steps = 40\neval_every = 20")
    assert (
        main(
            ["cell", "digits/n60/mlp/dropout/s1", "--grid", str(write_grid(steps, "steps")), "--results", str(results)]
        )
        == 0
    )
    assert "step     40/40" in capsys.readouterr().out  # a steps budget counts steps, not Keras' epochs
    assert main(["cell", "nope", "--grid", str(grid)]) == 2
    assert "cell 'nope' is not in grid 'tiny'" in capsys.readouterr().err


def test_missing_data_is_one_line_and_nothing_is_written(write_grid, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(files, "DEBIAN_DIR", tmp_path / "none")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    load_raw.cache_clear()
    grid = write_grid(TINY_GRID.replace('name = "digits"', 'name = "fashion_mnist"'))
    assert main(["run", str(grid), "--results", str(tmp_path / "results"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("regbench: error: fashion_mnist: data not found") and "dataset-fashion-mnist" in err[0]
    assert not list((tmp_path / "results").rglob("*.json"))
    load_raw.cache_clear()


def test_the_data_check_reads_only_datasets_that_come_from_files(monkeypatch):
    from regbench.run import service
    from regbench.train import datasets

    loaded = []
    monkeypatch.setattr(datasets, "load_raw", lambda name, *args: loaded.append(name))
    cells = [
        tiny_cell("digits", "small_cnn", {"transfer": {}}),  # its source: printed digits, generated
        tiny_cell("mnist1d", "mlp"),
        tiny_cell("moons", "mlp"),
        tiny_cell("fashion_mnist", "small_cnn"),
    ]
    assert service.check_data(cells, RunOptions(), set()) == (cells, set())
    assert loaded == ["fashion_mnist"]  # generated ones cannot be missing: the workers make them
    # Missing at an earlier stage: its cells are left out again and it is not loaded (or said) twice.
    assert service.check_data(cells, RunOptions(), {"fashion_mnist"}) == (cells[:3], {"fashion_mnist"})
    assert loaded == ["fashion_mnist"]


@pytest.mark.backend
def test_parallel_jobs_match_a_sequential_run(write_grid, tmp_path):
    grid = write_grid()
    assert main(["run", str(grid), "--results", str(tmp_path / "a"), "--out", str(tmp_path / "ra")]) == 0
    assert main(["run", str(grid), "--results", str(tmp_path / "b"), "--out", str(tmp_path / "rb"), "--jobs", "2"]) == 0
    a, b = stored(tmp_path / "a"), stored(tmp_path / "b")
    assert a.keys() == b.keys()
    # Workers run TensorFlow on cores/jobs threads. With oneDNN (AVX-512 CPUs) the numbers do not
    # change; without it (TF_ENABLE_ONEDNN_OPTS=0, most AVX2 CPUs) Eigen's reductions split by thread
    # count, so losses may differ in float32's last digits: accuracies equal, the rest to rounding.
    flat_a, flat_b = (flat({k: numbers(v) for k, v in side.items()}) for side in (a, b))
    assert flat_a.keys() == flat_b.keys()
    assert {k: v for k, v in flat_a.items() if "accuracy" in k} == {k: v for k, v in flat_b.items() if "accuracy" in k}
    assert flat_a == pytest.approx(flat_b, rel=1e-5, abs=1e-7)


def flat(value, key: str = "") -> dict:
    """{'cell/final/test/loss': 2.03, 'cell/history/val/loss/0': ...}: every number of nested dicts and lists."""
    if isinstance(value, dict):
        return {k: v for name, item in value.items() for k, v in flat(item, f"{key}/{name}").items()}
    if isinstance(value, list | tuple):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{key}/{i}").items()}
    return {key: value}


@pytest.mark.parametrize("kill_after_files", [0, 2])
@pytest.mark.slow
def test_sigkill_then_rerun_loses_nothing(kill_after_files, write_grid, tmp_path):
    grid = write_grid(TINY_GRID.replace("seeds = [1]", "seeds = [1, 2, 3]"))
    command = [
        sys.executable,
        "-m",
        "regbench.cli",
        "run",
        str(grid),
        "--results",
        str(tmp_path / "killed"),
        "--out",
        str(tmp_path / "rk"),
    ]
    cells = tmp_path / "killed" / "tiny" / "cells"
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(cells.glob("*.json"))) >= kill_after_files:
            break
        time.sleep(0.05)
    time.sleep(0.3 if kill_after_files == 0 else 0)  # also kill in the middle of start-up and of a cell
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = stored(tmp_path / "killed")
    assert len(partial) < 6
    assert all(r["status"] == "ok" for r in partial.values())  # every file present is whole

    assert subprocess.run(command, capture_output=True).returncode == 0
    assert main(["run", str(grid), "--results", str(tmp_path / "clean"), "--out", str(tmp_path / "rc")]) == 0
    killed, clean = stored(tmp_path / "killed"), stored(tmp_path / "clean")
    assert killed.keys() == clean.keys() and len(clean) == 6
    assert {k: numbers(v) for k, v in killed.items()} == {k: numbers(v) for k, v in clean.items()}
    assert sorted(p.name for p in cells.iterdir()) == sorted(f"{k}.json" for k in clean)  # no temp files


@pytest.mark.slow
def test_a_local_worker_that_dies_stops_the_run_with_one_line_and_a_rerun_completes(write_grid, tmp_path, capsys):
    import threading

    import psutil

    grid = write_grid(TINY_GRID.replace("seeds = [1]", "seeds = [1, 2, 3]").replace("epochs = 3", "epochs = 30"))
    argv = ["run", str(grid), "--jobs", "2", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "o")]
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(rc=main(argv)))
    runner.start()

    def loky_workers() -> list:
        return [p for p in psutil.Process().children(recursive=True) if "popen_loky" in " ".join(p.cmdline())]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not loky_workers():
        time.sleep(0.1)
    time.sleep(3)  # inside a cell
    loky_workers()[0].kill()
    runner.join(timeout=300)
    err = capsys.readouterr().err
    assert outcome == {"rc": 1}
    assert "regbench: error: a worker process died" in err and "run the same command to resume" in err
    assert all(r["status"] == "ok" for r in stored(tmp_path / "r").values())
    assert main(argv) == 0 and len(stored(tmp_path / "r")) == 6


def test_list_into_a_reader_that_stops_early_exits_quietly(write_grid):
    proc = subprocess.Popen(
        # 4,000 cells: far more output than a pipe holds, so writing goes on after the reader left
        [sys.executable, "-m", "regbench.cli", "list", str(write_grid(TINY_GRID.replace("seeds = [1]", f"seeds = {list(range(1, 2001))}")))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
    )  # fmt: skip
    proc.stdout.readline()
    proc.stdout.close()  # like `regbench list | head -1`
    assert proc.wait(timeout=60) == 0 and b"Traceback" not in proc.stderr.read()
    proc.stderr.close()


def test_the_store_decides_what_to_run(tmp_path):
    from regbench.records.result import Result
    from regbench.records.store import Store
    from tests.helpers import tiny_cell
    from tests.synthetic import synthetic_record

    store = Store(tmp_path, "grid")
    ok, failed, new = tiny_cell(seed=1), tiny_cell(seed=2), tiny_cell(seed=3)
    store.write(Result.from_json(synthetic_record(ok)))  # an ok record has results (validate.check_results)
    store.write(Result(failed.cell_id, failed.slug, failed.canonical(), status="failed", error="boom"))
    cells = [ok, failed, new]
    assert store.todo(cells) == [new]
    assert store.todo(cells, retry_failed=True) == [failed, new]
    assert store.todo(cells, force=True) == cells


@pytest.mark.slow
def test_run_prints_no_backend_chatter_unless_verbose(write_grid, tmp_path):
    grid = write_grid()

    def stderr(*extra: str) -> str:
        command = [sys.executable, "-m", "regbench.cli", "run", str(grid), "--results", str(tmp_path / "r"), "--force",
                   "--out", str(tmp_path / "o"), *extra]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
        return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stderr

    quiet = stderr("--jobs", "2")
    assert not any(mark in quiet for mark in ("absl", "oneDNN", "cuda", "Warning")), quiet
    # What TensorFlow itself says when it is imported on this machine (oneDNN's line only where its
    # kernels are on, i.e. on CPUs with AVX-512; a CUDA stub line on some builds): -v shows it. Not
    # what probing devices adds (cuInit's error): regbench hides the GPUs of a CPU-only run.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    start = [sys.executable, "-c", "import tensorflow"]
    native = subprocess.run(start, capture_output=True, text=True, env=env, check=True).stderr
    said = [
        line.split("] ", 1)[-1].strip()[:50]
        for line in native.splitlines()
        if "] " in line and ("oneDNN" in line or "cuda" in line)  # the lines the quiet run hides
    ]
    loud = stderr("-v")
    assert all(message in loud for message in said), (said, loud)

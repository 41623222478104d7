"""Every option of the command line exercised once, end to end on tiny grids: --only by id prefix,
--data-dir and --offline with files the test writes in the real idx.gz format, --mixed-precision,
--xla, `grids`, and the report rebuilding when the grid file changed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from regbench.cli import main
from regbench.train.datasets import load_raw
from regbench.train.datasets.files import IDX_FILES
from tests.helpers import TINY_GRID


def stored(results: Path, grid: str = "tiny") -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / grid / "cells").glob("*.json"))]


def write_idx(path: Path, array: np.ndarray) -> None:
    """LeCun's idx format: magic (0, 0, uint8 = 8, ndim), big-endian dimensions, then the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_only_by_id_prefix_selects_that_cell(write_grid, tmp_path, capsys):
    grid = write_grid()
    assert main(["list", str(grid), "--results", str(tmp_path)]) == 0
    first = next(line.split()[0] for line in capsys.readouterr().out.splitlines() if "todo" in line)
    assert main(["list", str(grid), "--results", str(tmp_path), "--only", first[:5]]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "todo" in line]
    assert len(rows) == 1 and rows[0].startswith(first)


def test_data_dir_reads_idx_files_and_offline_never_downloads(write_grid, tmp_path, monkeypatch, capsys):
    """A Fashion-MNIST grid on 120 + 60 images the test writes in the original file format."""
    from regbench.train.datasets import files

    monkeypatch.setattr(files, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))
    rng = np.random.default_rng(0)
    data = tmp_path / "data" / "fashion-mnist"
    data.mkdir(parents=True)
    for name, count in zip(IDX_FILES, (120, 120, 60, 60), strict=True):
        shape = (count, 28, 28) if "images" in name else (count,)
        write_idx(data / name, rng.integers(0, 256, shape) if "images" in name else np.arange(count) % 10)
    grid = write_grid(
        TINY_GRID.replace('name = "digits"', 'name = "fashion_mnist"').replace("val_size = 60", "val_size = 30")
    )
    results = tmp_path / "results"
    load_raw.cache_clear()
    try:
        # without the folder, offline: one line naming where it looked, exit 2, nothing written
        assert main(["run", str(grid), "--results", str(results), "--offline"]) == 2
        assert capsys.readouterr().err.count("\n") >= 1 and not results.exists()
        assert main(["run", str(grid), "--results", str(results), "--out", str(tmp_path / "r"), "--offline",
                     "--data-dir", str(tmp_path / "data")]) == 0  # fmt: skip
        records = stored(results)
        assert len(records) == 2 and all(r["status"] == "ok" for r in records)
        assert all(sum(r["train_class_counts"]) == 60 for r in records)  # the test's files, not the real set
    finally:
        load_raw.cache_clear()


@pytest.mark.parametrize(
    ("options", "numerics"),
    [(["--mixed-precision", "bfloat16"], {"dtype_policy": "mixed_bfloat16", "jit_compile": False}),
     (["--xla"], {"dtype_policy": "float32", "jit_compile": True})],
)  # fmt: skip
def test_numerics_options_reach_the_model_and_the_record(options, numerics, write_grid, tmp_path):
    grid, results = write_grid(), tmp_path / "results"
    assert main(["cell", "digits/n60/mlp/baseline/s1", "--grid", str(grid), "--results", str(results), *options]) == 0
    (record,) = stored(results)
    assert record["status"] == "ok" and record["numerics"] == numerics


def test_grids_lists_every_shipped_grid(capsys):
    from regbench.grid.parse import shipped_grids

    assert main(["grids"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == shipped_grids() and all(len(line.split()) > 1 for line in lines)


def test_the_report_is_rebuilt_when_the_grid_file_changes(write_grid, tmp_path, capsys):
    grid, results = write_grid(), tmp_path / "results"
    args = ["run", str(grid), "--results", str(results), "--out", str(tmp_path / "reports")]
    assert main(args) == 0
    report = tmp_path / "reports" / "tiny.md"
    assert main(args) == 0 and "(up to date)" in capsys.readouterr().out
    grid.write_text('description = "now described"\n' + grid.read_text())  # same cells, new text
    assert main(args) == 0
    assert "(up to date)" not in capsys.readouterr().out and "now described" in report.read_text()

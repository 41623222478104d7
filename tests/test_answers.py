"""Nothing a worker sends back is trusted: a record is stored only as a record of the cell that was
sent, under that cell's id. Another cell's record, another cell's fields under the id sent, an id
that is a path, a value that is not a record or an ok record with NaN scores are stored as a
failed record of the cell that was sent, saying why; a grid whose name could leave its folders
is refused."""

from __future__ import annotations

import json
import math

import pytest

from regbench.cli import main
from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.records.result import Result
from regbench.records.store import Store
from regbench.run.answers import accepted
from regbench.run.loop import run_and_store
from regbench.train.options import RunOptions
from tests.helpers import TINY_GRID
from tests.synthetic import synthetic_record

TWO_SEEDS = TINY_GRID.replace("seeds = [1]", "seeds = [1, 2]").replace('add_one = ["dropout"]', "baseline = true")


def answers(one: dict, other: dict) -> dict:
    """{name: what a hostile or broken worker returns when asked for `one`'s cell}."""
    nan = one["final"] | {"test": one["final"]["test"] | {"accuracy": math.nan}}
    return {
        "an id that is a path": Result.from_json(one | {"cell_id": "../../../outside/evil"}),
        "another cell's record": Result.from_json(other),
        "another cell's fields under the id sent": Result.from_json(other | {"cell_id": one["cell_id"], "slug": one["slug"]}),
        "not a record": {"cell_id": one["cell_id"]},
        "an ok record with a NaN score": Result.from_json(one).but(final=nan),
        "an ok record without results": Result.from_json(one).but(final=None, gap=None),
    }  # fmt: skip


@pytest.fixture
def grid(write_grid):
    spec = load_spec(str(write_grid(TWO_SEEDS)))
    return spec, list(expand(spec).cells)


ANSWERS = ["an id that is a path", "another cell's record", "another cell's fields under the id sent", "not a record",
           "an ok record with a NaN score", "an ok record without results"]  # fmt: skip


@pytest.mark.parametrize("answer", ANSWERS)
def test_a_bad_answer_is_stored_as_a_failed_record_of_the_cell_sent(answer, grid, tmp_path, monkeypatch, capsys):
    import regbench.train.runner as runner

    spec, (asked, other) = grid
    sent = answers(synthetic_record(asked), synthetic_record(other))[answer]
    assert sorted(answers(synthetic_record(asked), synthetic_record(other))) == sorted(ANSWERS)
    monkeypatch.setattr(runner, "run_cell", lambda cell, options=None: sent)  # the "worker"
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "results", spec.name)
    summary = run_and_store([asked], store, RunOptions(offline=True), label=spec.name)
    assert summary.ran == 1 and len(summary.failed) == 1
    assert sorted(p.name for p in store.dir.iterdir()) == [f"{asked.cell_id}.json"]  # nothing else, anywhere
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "tiny.toml"]
    record = json.loads(store.path(asked.cell_id).read_text())
    assert record["cell"] == json.loads(json.dumps(asked.canonical())) and record["status"] == "failed"
    assert record["error"].startswith("the worker's record was rejected: ")


def test_a_good_answer_is_stored_as_it_came(grid):
    _, (asked, _) = grid
    record = Result.from_json(synthetic_record(asked))
    assert accepted(asked, record, RunOptions()) is record


def test_an_answer_for_a_cell_not_sent_is_not_stored(grid, tmp_path, monkeypatch, capsys):
    """An executor outside regbench's own that yields another cell's record: not stored anywhere."""
    from regbench.run import executors

    spec, (asked, other) = grid
    monkeypatch.setitem(executors.EXECUTORS._items, "local", lambda cells, options, plan: (
        Result.from_json(synthetic_record(other)) for _ in cells))  # fmt: skip
    store = Store(tmp_path / "results", spec.name)
    summary = run_and_store([asked], store, RunOptions(offline=True), label=spec.name)
    assert summary.ran == 0 and not (store.dir.is_dir() and list(store.dir.glob("*.json")))
    assert f"an answer for a cell this run did not send ('{other.cell_id}')" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["list", "report", "run"])
def test_a_grid_whose_name_leaves_its_folders_is_one_line_and_exit_2(command, tmp_path, capsys):
    box = tmp_path / "box"
    box.mkdir()
    (box / "unrelated.png").write_bytes(b"png")
    grid = tmp_path / "...toml"  # the grid's name would be '..'
    grid.write_text(TINY_GRID)
    argv = [command, str(grid), "--results", str(box / "results")] + (
        [] if command == "list" else ["--out", str(box / "reports")]
    )
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "the grid's name '..' is not allowed; allowed: letters, digits, - and _" in err
    assert sorted(p.name for p in box.iterdir()) == ["unrelated.png"]

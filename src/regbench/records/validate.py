"""What a record must hold before anything uses it: a record read from the store (a file's bytes
parsed here, record_of), or returned by a worker, is checked here field by field (every field the
analysis and the report read, with its type), its numbers finite where a result needs them, and its cell equal to the cell it is stored
as (its own id, and the grid's cell where the grid is known). A record that fails is Damaged: the
store moves it aside and counts its cell as missing; a worker's is stored as a failed cell.

NaN and infinity: a cell whose loss turns NaN is stored as failed by the runner, and JSON has no
infinity, so an ok record with a non-finite final score, gap, best-validation score or history
value was not written by regbench as it is: it is Damaged (recomputed), never averaged into a
report. A failed record may hold NaN (stored as null) in its history.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from regbench.names import NAME_RULE, canonical_json, cell_id_of, is_name
from regbench.records.result import SCHEMA_VERSION, Result, upgrade

SPLITS = ("train", "val", "test")
SCORES = ("loss", "accuracy")  # and "objective" where present (schema 3)


class Damaged(ValueError):
    """A record that cannot be used; the message is the reason, one line."""


def expect(ok: bool, reason: str) -> None:
    if not ok:
        raise Damaged(reason)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any, finite: bool = True) -> bool:
    """An int or float (not a bool), finite unless `finite` is False."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return ok and (not finite or math.isfinite(value))


def optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


# The fields of a cell the analysis reads, with their types (grid/cell.Cell's canonical form;
# None-valued fields are left out of it, so the optional ones may be absent).
CELL_FIELDS: dict[str, tuple[Callable[[Any], bool], bool]] = {
    "dataset": (is_name, True),
    "train_size": (lambda v: is_int(v) and v >= 1, True),
    "val_size": (lambda v: is_int(v) and v >= 0, True),
    "split_seed": (is_int, True),
    "model": (is_name, True),
    "techniques": (lambda v: isinstance(v, dict), True),
    "seed": (is_int, True),
    "batch_size": (lambda v: is_int(v) and v >= 1, True),
    "optimizer": (is_name, True),
    "learning_rate": (is_number, True),
    "epochs": (is_int, False),
    "steps": (is_int, False),
    "eval_every": (is_int, False),
    "momentum": (is_number, False),
    "imbalance": (is_number, False),
    "section": (is_name, False),
}


def check_cell(cell: Any, cell_id: str, expected: Mapping[str, Any] | None = None) -> None:
    """The record's cell: a dict of CELL_FIELDS with their types, technique names and scalar
    parameters, whose id is `cell_id`; and equal to `expected` (the grid's canonical cell) if given."""
    expect(isinstance(cell, dict), f"cell is a {type(cell).__name__}, not a table")
    for key, (check, required) in CELL_FIELDS.items():
        if key in cell:
            expect(check(cell[key]), f"cell.{key} is {short(cell[key])}")
        else:
            expect(not required, f"cell without {key}")
    for name, params in cell["techniques"].items():
        expect(is_name(name), f"technique name {short(name)}; allowed: {NAME_RULE}")
        expect(isinstance(params, dict), f"cell.techniques.{name} is not a table")
        for key, value in params.items():
            expect(isinstance(key, str) and scalar(value), f"cell.techniques.{name}.{key} is {short(value)}")
    if expected is not None:
        expect(canonical_json(cell) == canonical_json(expected), "its cell is not the grid's cell of that id")
    expect(cell_id_of(cell) == cell_id, f"its cell has the id {cell_id_of(cell)}")


def scalar(value: Any) -> bool:
    """A technique parameter: a bool, string, finite number or None, or a list of them."""
    if isinstance(value, list):
        return all(scalar(v) and not isinstance(v, list) for v in value)
    return value is None or isinstance(value, (bool, str)) or is_number(value)


def short(value: Any) -> str:
    """A value for a reason: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_scores(scores: Any, where: str, finite: bool) -> None:
    """{loss, accuracy[, objective]}: numbers, finite where `finite` (None allowed elsewhere)."""
    expect(isinstance(scores, dict), f"{where} is {short(scores)}")
    for key in (*SCORES, "objective"):
        if key not in scores and key == "objective":
            continue
        value = scores.get(key)
        ok = is_number(value) if finite else value is None or is_number(value, finite=False)
        expect(ok, f"{where}.{key} is {short(value)}" + ("; allowed: a finite number" if finite else ""))


def check_results(record: dict[str, Any]) -> None:
    """final, gap, at_best_val and history: present and finite in an ok record; in a failed one
    absent, or of the same form with NaN allowed."""
    ok = record.get("status", "ok") == "ok"
    final, gap = record.get("final"), record.get("gap")
    if ok:
        expect(final is not None and gap is not None, "an ok record without final or gap")
    if final is not None:
        expect(isinstance(final, dict) and sorted(final) == sorted(SPLITS), f"final is {short(final)}")
        for split in SPLITS:
            check_scores(final[split], f"final.{split}", ok)
    if gap is not None:
        check_scores(gap, "gap", ok)
    best = record.get("at_best_val")
    if best is not None:
        expect(isinstance(best, dict) and is_int(best.get("step")), f"at_best_val is {short(best)}")
        for split in ("val", "test"):
            check_scores(best.get(split), f"at_best_val.{split}", ok)
    history = record.get("history", {})
    expect(isinstance(history, dict), f"history is {short(history)}")
    for split, by_metric in history.items():
        expect(isinstance(by_metric, dict), f"history.{split} is {short(by_metric)}")
        for metric, values in by_metric.items():
            expect(isinstance(values, list), f"history.{split}.{metric} is {short(values)}")
            bad = [v for v in values if not (is_number(v) or (not ok and (v is None or is_number(v, False))))]
            expect(not bad, f"history.{split}.{metric} holds {short(bad[0]) if bad else ''}")


# Record fields besides the cell and the results, with their types (result.Result).
FIELDS: dict[str, Callable[[Any], bool]] = {
    "slug": lambda v: isinstance(v, str),
    "status": lambda v: v in ("ok", "failed"),
    "error": optional(lambda v: isinstance(v, str)),
    "eval_steps": lambda v: isinstance(v, list) and all(is_int(s) for s in v),
    "best_epoch": optional(is_int),
    "best_step": optional(is_int),
    "epochs_run": lambda v: is_number(v) and v >= 0,
    "steps_run": lambda v: is_int(v) and v >= 0,
    "mechanisms": lambda v: (
        isinstance(v, dict) and all(isinstance(f, dict) and isinstance(f.get("triggered"), bool) for f in v.values())
    ),
    "time_per_epoch_s": optional(is_number),
    "wall_time_s": optional(is_number),
    "params": optional(is_int),
    "train_class_counts": optional(lambda v: isinstance(v, list) and all(is_int(c) for c in v)),
    "setup": lambda v: isinstance(v, dict) and isinstance(v.get("transfer", {}), dict),
    "numerics": lambda v: (
        isinstance(v, dict)
        and isinstance(v.get("dtype_policy", ""), str)
        and isinstance(v.get("jit_compile", False), bool)
    ),
    "device": optional(lambda v: isinstance(v, str)),
    "worker": optional(lambda v: isinstance(v, dict)),
    "versions": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
    "git_revision": optional(lambda v: isinstance(v, str)),
    "cpu": optional(lambda v: isinstance(v, dict)),
}


def check_record(record: Any, cell_id: str, expected: Mapping[str, Any] | None = None) -> None:
    """Raise Damaged unless `record` (a record's dict in the current schema, as Result.to_json
    gives it or result.upgrade makes it) is a usable record of cell `cell_id` (and of the grid's
    canonical cell `expected`, if given)."""
    expect(isinstance(record, dict), f"a {type(record).__name__}, not a record")
    expect(record.get("cell_id") == cell_id, f"it holds cell {short(record.get('cell_id'))}")
    check_cell(record.get("cell"), cell_id, expected)
    for key, check in FIELDS.items():
        if key in record:
            expect(check(record[key]), f"{key} is {short(record[key])}")
    expect("slug" in record, "a record without slug")
    check_results(record)


def record_of(data: bytes, cell_id: str, expected: Mapping[str, Any] | None = None) -> Result:
    """The Result a cell file's bytes hold, checked (`checked`); Damaged names the first problem."""
    record = checked(parse(data), cell_id, expected)
    return Result.from_json(record)


def parse(data: bytes) -> Any:
    """A record file's JSON; a file that does not end with "}\\n" was cut short (a torn write)."""
    if data.rstrip(b"\n")[-1:] != b"}":
        raise Damaged("cut short" if data else "empty")
    try:  # orjson: reading is most of the time of a report on a large grid
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # schema 1 wrote NaN as a bare token, which orjson rejects
        return json.loads(data)


def checked(raw: Any, cell_id: str, expected: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A stored record's dict (as parsed from JSON), upgraded to the current schema and checked
    (check_record); Damaged names the first problem."""
    expect(isinstance(raw, dict), f"a {type(raw).__name__}, not a record")
    schema = raw.get("schema", 1)  # schema 1 files had no such key
    expect(is_int(schema) and 1 <= schema <= SCHEMA_VERSION, f"schema {short(schema)}; allowed: 1..{SCHEMA_VERSION}")
    try:
        record = upgrade(raw)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise Damaged(f"a schema {schema} record that cannot be upgraded ({type(exc).__name__}: {exc})") from None
    check_record(record, cell_id, expected)
    return record

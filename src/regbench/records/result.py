"""The Result record: one trained (or failed) cell, the one type the runner returns, the store
writes and reads, and the analysis turns into tables. Its fields are documented here only.

Stored as JSON with a schema version; a file of an older schema is upgraded when read, never
rewritten: 1 held one {epoch, split, metric, value} dict per value; 2 added history as
{split: {metric: [values]}}; 3 added eval_steps, steps_run, best_step, at_best_val, mechanisms.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from regbench.records.steps import steps_per_epoch

SCHEMA_VERSION = 3


@dataclass(frozen=True)
class Result:
    cell_id: str
    slug: str  # readable name, e.g. digits/n200/small_cnn/dropout/lr0.003/s1
    cell: dict[str, Any]  # the cell's canonical JSON: everything that determined the run
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None  # why a cell failed (a training error, "out of memory: ...", NaN loss)
    # {split: {metric: [one value per evaluation]}}: train and val loss (with penalties), xent (data
    # loss), accuracy; train also learning_rate and epoch_time_s (s per evaluation interval)
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    eval_steps: list[int] = field(default_factory=list)  # optimizer steps done at each evaluation
    # {train, val, test: {loss (cross-entropy), accuracy, objective (loss + penalties)}}, from a clean
    # pass (no dropout, batch norm in inference mode) at the weights the run ends with
    final: dict[str, dict[str, float]] | None = None
    gap: dict[str, float] | None = None  # accuracy: train - test; loss: test - train
    best_epoch: int | None = None  # the best evaluation (1-based) by the monitored metric
    best_step: int | None = None
    epochs_run: float = 0  # passes over the train set (fractional under a steps budget)
    steps_run: int = 0  # optimizer steps, as the optimizer counted them
    at_best_val: dict[str, Any] | None = None  # {step, val, test}: the weights of the best val accuracy
    mechanisms: dict[str, dict[str, Any]] = field(default_factory=dict)  # {technique: {triggered, ...}}
    time_per_epoch_s: float | None = None  # median seconds per evaluation interval
    wall_time_s: float | None = None
    # Where the cell's seconds went: setup_s (data, set-up hooks, seeding, building, compiling or
    # restarting a kept compiled model), first_call_s (the one-off of the first evaluation
    # interval: tracing and compiling a fresh model's steps), train_s (optimizer steps),
    # validate_s (validation passes during training), evaluate_s (the final clean passes); and
    # reused: whether the compiled model was kept from an earlier cell of the worker (train/compiled.py)
    timing: dict[str, Any] | None = None
    params: int | None = None
    train_class_counts: list[int] | None = None
    setup: dict[str, Any] = field(default_factory=dict)  # facts of techniques' set-up (the transfer source)
    numerics: dict[str, Any] = field(default_factory=dict)  # dtype_policy, jit_compile
    device: str | None = None  # 'CPU (x86_64, 2 cores)' or 'GPU 1 (NVIDIA H100 80GB HBM3)'
    worker: dict[str, Any] | None = None  # host, pid, cuda_visible_devices
    versions: dict[str, str] = field(default_factory=dict)
    git_revision: str | None = None
    cpu: dict[str, Any] | None = None  # model, flags that change kernels (AVX-512, ...), onednn
    # {technique: [params]} the grid tunes ([tune.*]): the cell is one candidate of its set, whose
    # label hides these parameters
    tuned: dict[str, list[str]] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        """The stored form: a plain dict of every field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """A stored record, upgraded to the current schema; keys this version does not know are
        dropped (a newer writer's extras)."""
        if not isinstance(data, dict) or not {"cell_id", "slug", "cell"} <= data.keys():
            raise ValueError("not a regbench record (no cell_id, slug and cell)")
        data = upgrade(data)
        if data.get("status", "ok") not in ("ok", "failed"):
            raise ValueError(f"status {data['status']!r}; allowed: ok, failed")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def but(self, **changes: Any) -> Result:
        """A copy with `changes`."""
        return replace(self, **changes)


def upgrade(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record's dict in the current schema; older records are converted."""
    if record.get("schema", 1) == 1:
        history: dict[str, dict[str, list[float]]] = {}
        for row in sorted(record["history"], key=lambda r: (r["split"], r["metric"], r["epoch"])):
            history.setdefault(row["split"], {}).setdefault(row["metric"], []).append(row["value"])
        record = record | {"schema": 2, "history": history}
    if record["schema"] == 2:  # epochs budgets only: an evaluation after each epoch
        cell, runs, best = record.get("cell") or {}, record.get("epochs_run") or 0, record.get("best_epoch")
        per_epoch = steps_per_epoch(cell["train_size"], cell["batch_size"]) if "train_size" in cell else None
        steps = [per_epoch * (i + 1) for i in range(runs)] if per_epoch else []
        record = record | {
            "schema": SCHEMA_VERSION, "eval_steps": steps, "steps_run": steps[-1] if steps else 0,
            "best_step": steps[best - 1] if best and best <= len(steps) else None, "at_best_val": None,
            "mechanisms": {},
        }  # fmt: skip
    return record

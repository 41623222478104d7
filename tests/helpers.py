"""What several test modules share: small grids and cells for tests that train, and the numbers of a
record that must repeat exactly."""

from __future__ import annotations

from regbench.grid.cell import Cell, freeze_techniques
from regbench.records.result import Result
from regbench.train.datasets import get_dataset
from regbench.train.techniques import get_technique


def tiny_cell(dataset: str = "digits", model: str = "mlp", techniques: dict | None = None, **budget) -> Cell:
    """A cell of a few seconds; techniques = {name: {param: value}} with defaults filled in."""
    params = {name: get_technique(name)(**overrides).params() for name, overrides in (techniques or {}).items()}
    values = dict(
        train_size=100,
        val_size=100,
        split_seed=0,
        seed=1,
        epochs=3,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-3,
    )
    values.update(budget)
    assert values["val_size"] < get_dataset(dataset).train_pool
    return Cell(dataset=dataset, model=model, techniques=freeze_techniques(params), **values)


# Two cells of a few seconds each: digits, an MLP, baseline and dropout, one seed.
TINY_GRID = """
seeds = [1]
models = ["mlp"]
[budget]
epochs = 3
batch_size = 32
[design]
add_one = ["dropout"]
[[datasets]]
name = "digits"
train_sizes = [60]
val_size = 60
"""

SWEEP_GRID = """
seeds = [1, 2]
models = ["mlp"]
[design]
add_one = ["dropout", "l2"]
[[design.sweeps]]
technique = "dropout"
param = "rate"
values = [0.1, 0.5, 0.8]
[[design.sweeps]]
technique = "l2"
param = "factor"
values = [0.0001, 0.01]
with = ["batchnorm"]
[[datasets]]
name = "digits"
train_sizes = [100]
"""


def numbers(record: Result | dict) -> dict:
    """Everything that must repeat exactly: metrics and history, not times or environment (of a
    Result, or of a record as stored)."""
    record = Result.from_json(record) if isinstance(record, dict) else record
    history = {
        split: {m: v for m, v in by_metric.items() if m != "epoch_time_s"}
        for split, by_metric in record.history.items()
    }
    return {k: getattr(record, k) for k in ("final", "gap", "best_epoch", "epochs_run", "params")} | {
        "history": history
    }


def obey_permissions() -> None:
    """preexec_fn of a child that must obey permission bits even when the tests run as root: drops
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its bounding set (prctl PR_CAPBSET_DROP), which
    the command it execs then lacks. Linux only; needs CAP_SETPCAP (root has it)."""
    import ctypes
    import os

    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def permissions_apply() -> bool:
    """Whether a child started with obey_permissions cannot read a file of mode 000."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        secret = Path(folder) / "secret"
        secret.write_text("x")
        secret.chmod(0)
        try:
            return (
                subprocess.run(["cat", str(secret)], capture_output=True, preexec_fn=obey_permissions).returncode != 0
            )
        except (OSError, subprocess.SubprocessError):
            return False

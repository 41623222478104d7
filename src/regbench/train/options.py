"""How a worker trains its cells: where the data is, threads, numerics. Read by the runner, passed
by the run stage; importing it starts nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunOptions:
    data_dir: Path | None = None
    offline: bool = False
    verbose: int = 0  # 0 silent; else one line per evaluation (step, losses, accuracies, learning rate)
    threads: int | None = None  # TensorFlow threads for this process; None = all cores
    pretrained_dir: Path | None = None  # cache of pretrained backbones (transfer); None: this process only
    # Both change the numbers, so each record keeps them under "numerics".
    precision: str = "float32"  # Keras dtype policy: float32, mixed_float16 or mixed_bfloat16 (output float32)
    xla: bool = False  # compile train and eval steps with XLA (jit_compile=True)
    # Keep compiled models across this process's cells and restart them (train/compiled.py): the
    # same numbers as a fresh build, without tracing and compiling the steps again.
    reuse: bool = True

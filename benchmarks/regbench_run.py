"""`regbench run` in a fresh process, timed: shared by the benchmarks that time whole runs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def timed_run(grid: str | Path, folder: Path, *extra: str) -> tuple[float, str]:
    """(wall seconds, regbench's last output line) of `regbench run GRID` with results and reports
    under `folder`; exits with regbench's error output when the run fails."""
    argv = [sys.executable, "-m", "regbench.cli", "run", str(grid)]
    argv += ["--results", str(folder / "results"), "--out", str(folder / "reports"), *extra]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[2:])} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]

"""Writing files so that a crash never leaves half of one, and setting damaged ones aside: the one
implementation of atomic writes (a file, a folder) and of quarantine, for the results store, the
pretrained backbones and the report."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

# A writer's temporary files are named `.<target>.<pid>.<random>.tmp`: a clean-up removes only those
# whose writer is gone, never a live writer's half-written file.
TEMP_SUFFIX = ".tmp"


def temp_name(path: Path) -> str:
    """`.<name>.<pid>.` : the prefix of this process's temporary files for `path`."""
    return f".{path.name}.{os.getpid()}."


@cache
def file_mode() -> int:
    """The mode a plain new file gets here (0o666 less the umask): mkstemp's 0o600 would keep a
    results folder shared by a group unreadable to the others."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_name(path), suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_folder(path: Path, fill: Callable[[Path], None]) -> None:
    """`fill(folder)` writes a folder under a temporary name, which is then renamed to `path`: a
    reader sees the whole folder or none of it."""
    tmp = path.with_name(f"{temp_name(path)}{TEMP_SUFFIX}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def writer_alive(name: str) -> bool:
    """Whether the process that owns temporary file `name` (`.<target>.<pid>.<random>.tmp`) runs."""
    parts = name[: -len(TEMP_SUFFIX)].rsplit(".", 2)
    if len(parts) < 3 or not parts[1].isdigit():
        return False  # another naming scheme (an older release): its writer is long gone
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user holds that pid
        return True
    return True


def remove_stale_temp_files(folder: Path) -> int:
    """Delete the temporary files in `folder` whose writer is gone (a killed run's); returns how many."""
    if not folder.is_dir():
        return 0
    stale = [
        p
        for p in folder.iterdir()
        if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX) and not writer_alive(p.name)
    ]
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return len(stale)


def quarantine(path: Path, damaged: Path, reason: str, what: str, then: str) -> Path | None:
    """Move a damaged file or folder to `damaged/<name>.<UTC time><suffix>` (never deleted) with one
    warning line: '[<what>] <path> is damaged (<reason>); moved to <target>; <then>'. Returns the
    target, or None when another process moved it first."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = damaged / f"{path.stem}.{stamp}{path.suffix}"
    damaged.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):  # another process was first
        os.replace(path, target)
        named = f"{what} {path}" if what else str(path)
        print(f"regbench: warning: {named} is damaged ({reason}); moved to {target}; {then}", file=sys.stderr)
        return target
    return None


def first_line(exc: BaseException, limit: int = 120) -> str:
    """'ValueError: the message' on one line, cut to `limit` characters: a reason for a warning."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:limit]

"""Writing files so that a crash never leaves half of one, reading only regular files, and setting
damaged ones aside: the one implementation of atomic writes (a file, a folder), of safe reads and
of quarantine, for the results store, the pretrained backbones and the report."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
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
    try:
        names = os.listdir(folder)
    except OSError:  # no folder (nothing to clean), or one that cannot be read (reads fail later)
        return 0
    stale = [folder / n for n in names if n.startswith(".") and n.endswith(TEMP_SUFFIX) and not writer_alive(n)]
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):  # a read-only folder: a leftover is harmless, writes fail later
                p.unlink(missing_ok=True)
    return len(stale)


def quarantine(path: Path, damaged: Path, reason: str, what: str, then: str) -> Path | None:
    """Move a damaged file or folder to `damaged/<name>.<UTC time><suffix>` (never deleted) with one
    warning line: '[<what>] <path> is damaged (<reason>); moved to <target>; <then>'. Returns the
    target, or None when another process moved it first or it cannot be moved (`damaged` is a
    file, the folder is read-only: the warning says so, and the file stays where it is)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = damaged / f"{path.stem}.{stamp}{path.suffix}"
    named = f"{what} {path}" if what else str(path)
    try:
        damaged.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    except FileNotFoundError:  # another process was first
        return None
    except OSError as exc:
        print(
            f"regbench: warning: {named} is damaged ({reason}); cannot move it to {damaged} "
            f"({exc.strerror or exc}); {then}",
            file=sys.stderr,
        )
        return None
    print(f"regbench: warning: {named} is damaged ({reason}); moved to {target}; {then}", file=sys.stderr)
    return target


class NotRegular(OSError):
    """A path that is not a regular file (a directory, FIFO, symbolic link, device or socket)."""


def kind(mode: int) -> str:
    """What a file of `mode` (st_mode) is, for a message: 'a directory', 'a FIFO', ..."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):  # fmt: skip
        if test(mode):
            return name
    return "a device"


def read_regular(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file; NotRegular otherwise. Never follows a symbolic
    link (O_NOFOLLOW) and never blocks on a FIFO (O_NONBLOCK, then fstat before reading)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegular(errno.ELOOP, "a symbolic link", str(path)) from None
        if exc.errno == errno.ENXIO:  # a socket, or a device without its driver: nothing to open
            raise NotRegular(errno.ENXIO, kind(os.lstat(path).st_mode), str(path)) from None
        raise
    mode = os.fstat(fd).st_mode  # before fdopen, which refuses a directory in words of its own
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegular(errno.EINVAL, kind(mode), str(path))
    with os.fdopen(fd, "rb") as f:
        return f.read()


def first_line(exc: BaseException, limit: int = 120) -> str:
    """'ValueError: the message' on one line, cut to `limit` characters: a reason for a warning."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:limit]

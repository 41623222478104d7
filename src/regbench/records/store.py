"""Results store: one JSON file per cell, results/<grid>/cells/<cell_id>.json, written atomically.

Nothing read back is trusted: a cell file must be a regular file (never a link, a folder or a
FIFO, never followed or blocked on), hold a record that validate.record_of accepts (its fields, its
finite results, its cell: the grid's cell of that id when the store knows the grid's cells), and
anything else is moved to cells/damaged/ with one warning and counts as missing, so the next run
recomputes it. Paths are made from ids alone."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from regbench.errors import StoreError
from regbench.names import NAME_RULE, is_name
from regbench.records.disk import atomic_write, first_line, quarantine, read_regular, remove_stale_temp_files
from regbench.records.result import Result
from regbench.records.validate import Damaged, record_of

JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY

# Which file a cell's record is, as the file system says: (inode, mtime in ns, size). Every atomic
# write makes a new inode, so a record stored by anyone changes it.
Version = tuple[int, int, int]


class Store:
    """The stored results of one grid under `root/<grid>/cells`, optionally knowing the grid's
    `cells` (anything with cell_id and canonical()): a record of one of them must hold exactly
    that cell. Processes that share a results folder (two terminals, two Dask clients) divide its
    cells: each claims a cell before running it (a lock file in <grid>/claims/ that the operating
    system releases if the process dies), then checks that nobody stored it meanwhile."""

    def __init__(self, root: Path, grid: str, cells: Iterable[Any] = ()) -> None:
        self.dir = Path(root) / grid / "cells"
        self._claims: dict[str, Any] = {}  # cell_id -> the FileLock this process holds
        self._expected = {c.cell_id: c.canonical() for c in cells}
        self._unusable: dict[str, int] = {}  # cell_id -> inode of a damaged file that could not be moved
        self._status: dict[str, tuple[Version, str]] = {}  # cell_id -> (version read, its status)

    def expect(self, cells: Iterable[Any]) -> None:
        """Cells whose records this store checks against (more become known once a grid's tuning
        cells are stored: the evaluation cells they chose)."""
        self._expected |= {c.cell_id: c.canonical() for c in cells}

    def path(self, cell_id: str) -> Path:
        if not is_name(cell_id):  # never a path from a string that is not an id
            raise ValueError(f"{cell_id!r} is not a cell id; allowed: {NAME_RULE}")
        return self.dir / f"{cell_id}.json"

    def version(self, cell_id: str) -> Version | None:
        """The version of the cell's file if it is a regular file, else None (absent or damaged)."""
        try:
            st = os.lstat(self.path(cell_id))
        except FileNotFoundError:
            return None
        ok = stat.S_ISREG(st.st_mode) and self._unusable.get(cell_id) != st.st_ino
        return (st.st_ino, st.st_mtime_ns, st.st_size) if ok else None

    def claim(self, cell_id: str, wait: bool = False, seen: Version | None = None) -> bool:
        """Take the claim on a cell: True when this process may run it. False when another process
        holds its claim (without `wait`; with it, block until that one is done or dead), or when
        a record was stored for it since this run decided to run it: its file is no longer the
        version `seen` then (None: there was none). Checked again once the claim is held."""
        from filelock import FileLock, Timeout

        if self.version(cell_id) != seen:
            return False
        claims = self.dir.parent / "claims"  # beside cells/: lock files, left for reuse
        lock = FileLock(str(claims / f"{cell_id}.lock"))
        try:
            claims.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            return False
        except OSError as exc:
            raise StoreError(f"cannot take the claim {claims / f'{cell_id}.lock'} ({exc.strerror or exc})") from None
        if self.version(cell_id) != seen:  # stored by the process that held the claim, or another
            lock.release()
            return False
        self._claims[cell_id] = lock
        return True

    def release(self, cell_id: str) -> None:
        """Give up this process's claim on a cell (after storing it, or on failure)."""
        if lock := self._claims.pop(cell_id, None):
            lock.release()

    def release_all(self) -> None:
        for cell_id in list(self._claims):
            self.release(cell_id)

    def stored_ids(self) -> set[str]:
        """Ids of the cells with a regular file <id>.json: a directory listing, no file is opened
        (fast resume). An entry that is not a regular file (a folder, FIFO, symbolic link) is
        moved aside; a file that cannot be read counts until it is read."""
        try:
            entries = list(os.scandir(self.dir))
        except (FileNotFoundError, NotADirectoryError):
            return set()
        except OSError as exc:
            raise StoreError(f"cannot read results in {self.dir} ({exc.strerror or exc})") from None
        ids = set()
        for entry in entries:
            cell_id = entry.name[:-5]
            if not entry.name.endswith(".json") or not is_name(cell_id) or self._unusable.get(cell_id) == entry.inode():
                continue
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                self.read(cell_id)  # refuses it as what it is (read_regular) and moves it aside
                continue
            ids.add(cell_id)
        return ids

    def read(self, cell_id: str) -> Result | None:
        """The stored Result, or None when there is none or it is damaged (not a regular file,
        unreadable, cut short, not a valid record of this cell), which is moved aside with a
        one-line warning: its cell counts as missing."""
        path = self.path(cell_id)
        if cell_id in self._unusable and self.version(cell_id) is None:
            return None  # said once already
        try:
            return record_of(read_regular(path), cell_id, self._expected.get(cell_id))
        except FileNotFoundError:  # another process moved it aside meanwhile
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # not a regular file, unreadable, not a valid record: moved to cells/damaged/<id>.<UTC
            # time>.json (never deleted). One that cannot be moved (cells/damaged is a file, the
            # folder is read-only) is said so once and ignored from then on, until it is replaced.
            moved = quarantine(
                path, path.parent / "damaged", damage(exc), "", "its cell counts as missing and runs again"
            )
            if moved is None:
                with contextlib.suppress(FileNotFoundError):
                    self._unusable[cell_id] = os.lstat(path).st_ino
            self._status.pop(cell_id, None)
        return None

    def status(self, cell_id: str) -> str | None:
        """'ok' or 'failed' of the cell's stored record (read once per version of its file), None
        when it has none or it is damaged."""
        version = self.version(cell_id)
        if version is None:
            if os.path.lexists(self.path(cell_id)):
                self.read(cell_id)  # not a regular file: moved aside, with its warning
            return None
        if (known := self._status.get(cell_id)) and known[0] == version:
            return known[1]
        record = self.read(cell_id)
        if record is None:
            return None
        self._status[cell_id] = (version, record.status)
        return record.status

    def statuses(self, ids: Iterable[str]) -> dict[str, str]:
        """{cell_id: 'ok' | 'failed'} of those of `ids` that are stored and readable."""
        found = {i: self.status(i) for i in set(ids) & self.stored_ids()}
        return {i: s for i, s in found.items() if s is not None}

    def write(self, result: Result) -> Path:
        """Sorted keys and indented, so records diff well; NaN is stored as null. A folder that
        cannot be written (disk full, read-only) raises StoreError; nothing half-written stays."""
        path = self.path(result.cell_id)
        try:
            atomic_write(path, orjson.dumps(result.to_json(), option=JSON_OPTIONS) + b"\n")
        except OSError as exc:
            raise StoreError(f"cannot write results to {self.dir} ({exc.strerror or exc})") from None
        self._unusable.pop(result.cell_id, None)
        return path

    def records(self, ids: Iterable[str]) -> dict[str, Result]:
        """{cell_id: Result} of those of `ids` stored with a readable record (damaged ones moved
        aside). Each is opened by its name: an absent one costs a failed open, as little as a
        listing of a folder of them."""
        return {i: r for i in sorted(set(ids)) if (r := self.read(i)) is not None}

    def results(self) -> Iterator[Result]:
        for cell_id in sorted(self.stored_ids()):
            if (result := self.read(cell_id)) is not None:
                yield result

    def todo(self, cells: Sequence[Any], force: bool = False, retry_failed: bool = False) -> list[Any]:
        """The cells (anything with a cell_id) to run, in order: every one with `force`; else
        those without a usable record, and with `retry_failed` those stored as failed too."""
        return self.decide(cells, force, retry_failed)[0]

    def decide(
        self, cells: Sequence[Any], force: bool = False, retry_failed: bool = False
    ) -> tuple[list[Any], dict[str, Version | None]]:
        """(todo's cells, the version of each one's file as seen while deciding: None where none
        was stored or it was damaged and moved aside), for `claim` to tell whether anyone stored
        the cell after this decision."""
        if force:
            return list(cells), {c.cell_id: self.version(c.cell_id) for c in cells}
        keep = ("ok",) if retry_failed else ("ok", "failed")
        todo, seen = [], {}
        for c in cells:
            status = self.status(c.cell_id)  # one lstat; a file is read once per version
            if status not in keep:
                todo.append(c)
                seen[c.cell_id] = self.version(c.cell_id) if status else None
        return todo, seen

    def failed_ids(self, ids: set[str]) -> set[str]:
        """Those of `ids` stored with status 'failed' (each record read once per version)."""
        return {i for i, status in self.statuses(ids).items() if status == "failed"}

    def remove_stale_temp_files(self) -> int:
        """Delete temporary files a killed writer left behind (never a live writer's); returns how many."""
        return remove_stale_temp_files(self.dir)


def damage(exc: BaseException) -> str:
    """Why a cell file cannot be used, in one line: Damaged's reason, the system's words for an
    OSError (permission denied, I/O error), else the exception's first line."""
    if isinstance(exc, Damaged):
        return str(exc)
    return (exc.strerror if isinstance(exc, OSError) else None) or first_line(exc)

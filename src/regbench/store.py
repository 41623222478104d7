"""Results store: one JSON file per cell, results/<grid>/cells/<cell_id>.json, written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from regbench.disk import atomic_write, first_line, quarantine, remove_stale_temp_files
from regbench.errors import StoreError
from regbench.result import Result

JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY


class Store:
    """The stored results of one grid under `root/<grid>/cells`. Processes that share a results
    folder (two terminals, two Dask clients) divide its cells: each claims a cell before running
    it (a lock file in <grid>/claims/ that the operating system releases if the process dies)."""

    def __init__(self, root: Path, grid: str) -> None:
        self.dir = Path(root) / grid / "cells"
        self._claims: dict[str, Any] = {}  # cell_id -> the FileLock this process holds

    def claim(self, cell_id: str, wait: bool = False, stored_after: float = 0.0) -> bool:
        """Take the claim on a cell not stored yet: True when this process may run it. False when
        it is stored (written after `stored_after`, a time.time(): a forced rerun ignores older
        files), or (without `wait`) another process holds its claim; with `wait`, block until
        that process is done (or dead) and decide again."""
        from filelock import FileLock, Timeout

        if self.stored_since(cell_id, stored_after):
            return False
        claims = self.dir.parent / "claims"  # beside cells/: lock files, left for reuse
        claims.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(claims / f"{cell_id}.lock"))
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            return False
        if self.stored_since(cell_id, stored_after):  # stored by the process that held the claim
            lock.release()
            return False
        self._claims[cell_id] = lock
        return True

    def stored_since(self, cell_id: str, since: float) -> bool:
        try:
            return self.path(cell_id).stat().st_mtime >= since
        except FileNotFoundError:
            return False

    def release(self, cell_id: str) -> None:
        """Give up this process's claim on a cell (after storing it, or on failure)."""
        if lock := self._claims.pop(cell_id, None):
            lock.release()

    def release_all(self) -> None:
        for cell_id in list(self._claims):
            self.release(cell_id)

    def path(self, cell_id: str) -> Path:
        return self.dir / f"{cell_id}.json"

    def stored_ids(self) -> set[str]:
        """Ids of every stored cell; a directory listing, no file is opened (fast resume)."""
        if not self.dir.is_dir():
            return set()
        return {name[:-5] for name in os.listdir(self.dir) if name.endswith(".json") and not name.startswith(".")}

    def read(self, cell_id: str) -> Result | None:
        """The stored Result, or None for a damaged file (cut short, empty, not a record of this
        cell), which is moved aside with a one-line warning: its cell counts as missing."""
        path = self.path(cell_id)
        try:
            data = path.read_bytes()
            try:  # orjson: reading is most of the time of a report on a large grid
                raw = orjson.loads(data)
            except orjson.JSONDecodeError:  # schema 1 wrote NaN as a bare token, which orjson rejects
                raw = json.loads(data)
            result = Result.from_json(raw)
            if result.cell_id != cell_id:
                raise ValueError(f"it holds cell {result.cell_id}")
            return result
        except FileNotFoundError:  # another process moved it aside meanwhile
            return None
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as exc:
            self.quarantine(cell_id, first_line(exc))
            return None

    def quarantine(self, cell_id: str, reason: str) -> Path | None:
        """Move a damaged cell file to cells/damaged/<id>.<UTC time>.json (never deleted)."""
        return quarantine(
            self.path(cell_id), self.dir / "damaged", reason, "", "its cell counts as missing and runs again"
        )

    def check_tails(self, ids: set[str]) -> None:
        """Move aside stored files of `ids` that were cut short (every record ends with "}\\n"),
        reading two bytes a file: resume stays fast, and a truncated cell is recomputed."""
        for cell_id in ids:
            path = self.path(cell_id)
            try:
                with open(path, "rb") as f:
                    f.seek(max(0, path.stat().st_size - 2))
                    tail = f.read()
            except FileNotFoundError:
                continue
            if tail.rstrip(b"\n")[-1:] != b"}":
                self.quarantine(cell_id, "cut short" if tail else "empty")

    def write(self, result: Result) -> Path:
        """Sorted keys and indented, so records diff well; NaN is stored as null. A folder that
        cannot be written (disk full, read-only) raises StoreError; nothing half-written stays."""
        path = self.path(result.cell_id)
        try:
            atomic_write(path, orjson.dumps(result.to_json(), option=JSON_OPTIONS) + b"\n")
        except OSError as exc:
            raise StoreError(f"cannot write results to {self.dir} ({exc.strerror or exc})") from None
        return path

    def results(self) -> Iterator[Result]:
        for cell_id in sorted(self.stored_ids()):
            if (result := self.read(cell_id)) is not None:
                yield result

    def todo(self, cells: Sequence[Any], force: bool = False, retry_failed: bool = False) -> list[Any]:
        """The cells (anything with a cell_id) to run, in order: every one with `force`; else
        those not stored, and with `retry_failed` those stored as failed too."""
        if force:
            return list(cells)
        self.check_tails(self.stored_ids() & {c.cell_id for c in cells})
        done = self.stored_ids() & {c.cell_id for c in cells}
        if retry_failed:
            done -= self.failed_ids(done)
        return [c for c in cells if c.cell_id not in done]

    def failed_ids(self, ids: set[str]) -> set[str]:
        """Those of `ids` stored with status 'failed' (opens only those files)."""
        return {i for i in ids & self.stored_ids() if (r := self.read(i)) is not None and not r.ok}

    def remove_stale_temp_files(self) -> int:
        """Delete temporary files a killed writer left behind (never a live writer's); returns how many."""
        return remove_stale_temp_files(self.dir)

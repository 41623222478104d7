"""Results store: one JSON file per cell, results/<grid>/cells/<cell_id>.json, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    """The stored results of one grid under `root/<grid>/cells`."""

    def __init__(self, root: Path, grid: str) -> None:
        self.dir = Path(root) / grid / "cells"

    def path(self, cell_id: str) -> Path:
        return self.dir / f"{cell_id}.json"

    def stored_ids(self) -> set[str]:
        """Ids of every stored cell; a directory listing, no file is opened (fast resume)."""
        if not self.dir.is_dir():
            return set()
        return {name[:-5] for name in os.listdir(self.dir) if name.endswith(".json") and not name.startswith(".")}

    def read(self, cell_id: str) -> dict[str, Any]:
        return json.loads(self.path(cell_id).read_text())

    def write(self, result: dict[str, Any]) -> Path:
        path = self.path(result["cell_id"])
        atomic_write(path, json.dumps(result, indent=1, sort_keys=True) + "\n")
        return path

    def results(self) -> Iterator[dict[str, Any]]:
        for cell_id in sorted(self.stored_ids()):
            yield self.read(cell_id)

    def failed_ids(self, ids: set[str]) -> set[str]:
        """Those of `ids` stored with status 'failed' (opens only those files)."""
        return {i for i in ids & self.stored_ids() if self.read(i)["status"] != "ok"}

    def remove_stale_temp_files(self) -> int:
        """Delete temporary files a killed writer left behind; returns how many."""
        if not self.dir.is_dir():
            return 0
        stale = [p for p in self.dir.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

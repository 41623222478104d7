"""Names that become parts of paths, and cell ids: the one place that says what a grid, section,
dataset, model or technique may be called, and how a cell's id is made from its canonical form.
A path is only ever built from these (never from a string read from a record), so nothing read
from disk or from a worker can point a file outside its folder."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

NAME = re.compile(r"[A-Za-z0-9_-]+")
NAME_RULE = "letters, digits, - and _"
CELL_ID = re.compile(r"[0-9a-f]{12}")


def is_name(text: Any) -> bool:
    """Whether `text` is a name that may be part of a file name (NAME_RULE)."""
    return isinstance(text, str) and NAME.fullmatch(text) is not None


def canonical_json(data: Any) -> str:
    """The text a cell's id hashes: sorted keys, no spaces (tuples as lists)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def cell_id_of(canonical: dict[str, Any]) -> str:
    """First 12 hex digits of sha256 over the canonical JSON of a cell."""
    return hashlib.sha256(canonical_json(canonical).encode()).hexdigest()[:12]


def file_part(text: str) -> str:
    """`text` as part of a file name: any character outside letters, digits, '.', '-' and '_'
    becomes '_', and a leading '.' too (no hidden files, no '..'). Names that follow NAME_RULE,
    and numbers such as 'imb2.5', pass unchanged."""
    return re.sub(r"^\.|[^A-Za-z0-9._-]", "_", text) or "_"

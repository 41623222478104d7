"""Shared fixtures: tests never download (REGBENCH_OFFLINE) and write grids into tmp_path."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.helpers import TINY_GRID

os.environ["REGBENCH_OFFLINE"] = "1"  # a missing dataset is an error, never a download
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def write_grid(tmp_path: Path):
    """write_grid(text, name="tiny") -> path of a grid file in tmp_path."""

    def write(text: str = TINY_GRID, name: str = "tiny") -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(textwrap.dedent(text))
        return path

    return write

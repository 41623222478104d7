"""Two results folders of one grid, cell by cell and effect by effect: which cells only one has,
whose final metrics differ beyond a tolerance and what else differs in their records (code,
libraries, CPU, numerics), and whether each effect's 95% CI overlaps between the two. Never
imports TensorFlow."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis import evidence
from regbench.errors import UsageError
from regbench.result import Result
from regbench.store import Store

CONTEXT = ("git_revision", "versions", "device", "cpu", "numerics")  # what may explain a difference


def folder(path: Path) -> Store:
    """The store of a grid folder: `results/quick` or `results/reference/quick` (holding cells/)."""
    path = Path(path)
    if not (path / "cells").is_dir():
        raise UsageError(
            f"{path}: not a results folder of a grid; allowed: a folder with cells/ in it, e.g. results/quick"
        )
    return Store(path.parent, path.name)


def records(store: Store) -> dict[str, Result]:
    return {r.cell_id: r for r in store.results()}


def differing_cells(a: dict[str, Result], b: dict[str, Result], tolerance: float) -> pd.DataFrame:
    """Cells of both whose final metrics differ by more than `tolerance` (a NaN differs from
    everything). Columns: cell_id, slug, largest (the largest absolute difference; inf for a NaN),
    metric (where), also_differs (context fields)."""
    rows = []
    for cell_id in sorted(a.keys() & b.keys()):
        x, y = a[cell_id], b[cell_id]
        if not (x.final and y.final):
            continue
        gaps = {f"{s}_{m}": difference(x.final[s][m], y.final[s][m]) for s in x.final for m in ("accuracy", "loss")}
        metric = max(gaps, key=gaps.get)
        if gaps[metric] > tolerance:
            also = [k for k in CONTEXT if getattr(x, k) != getattr(y, k)]
            rows.append({"cell_id": cell_id, "slug": x.slug, "largest": gaps[metric], "metric": metric,
                         "also_differs": ", ".join(also) or "nothing recorded"})  # fmt: skip
    return pd.DataFrame(rows, columns=["cell_id", "slug", "largest", "metric", "also_differs"])


def difference(a: float | None, b: float | None) -> float:
    """|a - b|; infinite where either is not a finite number (NaN equals nothing, NaN included)."""
    finite = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (a, b))
    return abs(a - b) if finite else math.inf


def effects_of(records: dict[str, Result]) -> pd.DataFrame:
    cells = agg.cells_frame(records.values())
    return agg.effects(evidence.tuned(cells, evidence.choose_rates(cells)))


def effect_overlap(a: dict[str, Result], b: dict[str, Result]) -> pd.DataFrame:
    """Each effect (against the baseline, tuned arms) in both folders: its two estimates and
    whether their 95% CIs overlap and their signs agree. Columns: metric, the CONDITION columns,
    technique_set, mean_a, low_a, high_a, mean_b, low_b, high_b, overlap, signed (either CI
    excludes 0), same_sign."""
    key = ["metric", *agg.CONDITION, "technique_set"]
    ea, eb = effects_of(a), effects_of(b)
    if ea.empty or eb.empty:
        return pd.DataFrame()
    both = ea[[*key, "mean", "low", "high"]].merge(eb[[*key, "mean", "low", "high"]], on=key, suffixes=("_a", "_b"))
    both["overlap"] = (both["low_a"] <= both["high_b"]) & (both["low_b"] <= both["high_a"])
    # A sign means something only where a CI excludes 0: elsewhere "agree" is a coin toss.
    both["signed"] = (both["low_a"] > 0) | (both["high_a"] < 0) | (both["low_b"] > 0) | (both["high_b"] < 0)
    both["same_sign"] = (both["mean_a"] > 0) == (both["mean_b"] > 0)
    return both


def compare(path_a: Path, path_b: Path, tolerance: float = 0.005) -> dict[str, Any]:
    """{only_a, only_b, both, differing (differing_cells), effects (effect_overlap)}."""
    a, b = records(folder(path_a)), records(folder(path_b))
    return {
        "only_a": sorted(a.keys() - b.keys()),
        "only_b": sorted(b.keys() - a.keys()),
        "both": len(a.keys() & b.keys()),
        "differing": differing_cells(a, b, tolerance),
        "effects": effect_overlap(a, b),
    }


def text(found: dict[str, Any], path_a: Path, path_b: Path, tolerance: float) -> str:
    """The comparison as a few lines and two tables a user can act on."""
    differing, effects = found["differing"], found["effects"]
    lines = [
        f"A = {path_a}, B = {path_b}",
        f"cells: {found['both']} in both, {len(found['only_a'])} only in A, {len(found['only_b'])} only in B",
        f"final metrics (train/val/test accuracy and loss) differ by more than {tolerance:g} in {len(differing)} of "
        f"{found['both']} cells",
    ]
    if len(differing):
        shown = (
            differing.sort_values("largest", ascending=False).head(15).assign(largest=lambda d: d["largest"].round(4))
        )
        lines += ["", shown.to_string(index=False)]
        causes = differing["also_differs"].value_counts()
        lines += ["", "what else differs in those records: " + "; ".join(f"{k}: {n} cells" for k, n in causes.items())]
    if len(effects):
        signed = effects[effects["signed"]]
        bad = effects[~effects["overlap"] | (effects["signed"] & ~effects["same_sign"])]
        lines += [
            "",
            f"effects against the baseline (tuned arms): {len(effects)} in both; 95% CIs overlap in "
            f"{int(effects['overlap'].sum())}; of the {len(signed)} whose CI excludes 0 in either, signs agree in "
            f"{int(signed['same_sign'].sum())}",
        ]
        if len(bad):
            bad = bad.assign(condition=agg.condition_labels(bad))
            columns = ["metric", "condition", "technique_set", "mean_a", "mean_b", "overlap", "same_sign"]
            lines += ["", bad[columns].round(4).to_string(index=False)]
    return "\n".join(lines)

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
from regbench.analysis import arms, effects
from regbench.analysis.labels import condition_labels
from regbench.errors import UsageError
from regbench.grid.parse import load_spec
from regbench.records.result import Result
from regbench.records.store import Store

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
            also = [
                cpu_difference(x.cpu, y.cpu) if k == "cpu" else k for k in CONTEXT if getattr(x, k) != getattr(y, k)
            ]
            rows.append({"cell_id": cell_id, "slug": x.slug, "largest": gaps[metric], "metric": metric,
                         "also_differs": ", ".join(also) or "nothing recorded"})  # fmt: skip
    return pd.DataFrame(rows, columns=["cell_id", "slug", "largest", "metric", "also_differs"])


def difference(a: float | None, b: float | None) -> float:
    """|a - b|; infinite where either is not a finite number (NaN equals nothing, NaN included)."""
    finite = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (a, b))
    return abs(a - b) if finite else math.inf


def cpu_difference(a: dict | None, b: dict | None) -> str:
    """'cpu (A only: amx_bf16, amx_tile; model Intel Xeon vs AMD EPYC; oneDNN on in A, off in B)':
    what of the CPU differs between two records, in the terms that change a run's rounding."""
    a, b = a or {}, b or {}
    parts = []
    only_a, only_b = (
        sorted(set(a.get("flags", ())) - set(b.get("flags", ()))),
        sorted(set(b.get("flags", ())) - set(a.get("flags", ()))),
    )
    parts += [f"A only: {', '.join(only_a)}"] if only_a else []
    parts += [f"B only: {', '.join(only_b)}"] if only_b else []
    if a.get("model") != b.get("model"):
        parts.append(f"model {a.get('model')} vs {b.get('model')}")
    if a.get("onednn") != b.get("onednn"):
        parts.append(f"oneDNN {a.get('onednn')} in A, {b.get('onednn')} in B")
    return f"cpu ({'; '.join(parts)})" if parts else "cpu"


def effects_of(records: dict[str, Result], tuning_seeds: dict[str, tuple[int, ...]]) -> pd.DataFrame:
    """The effects against the baseline of a folder's records, each seed at its own arm (none for
    a folder without records)."""
    if not records:
        return pd.DataFrame()
    cells = agg.cells_frame(records.values())
    return effects.effects(arms.arms(cells, arms.choose(cells, tuning_seeds)))


def tuning_seeds_of(grid: str) -> dict[str, tuple[int, ...]]:
    """{section: [tuning] seeds} of the grid a folder is named after, where that grid can be read
    (a folder of another machine's grid may not be): those seeds' cells are never compared."""
    try:
        spec = load_spec(grid)
    except UsageError:
        return {}
    return {part.section or "": part.tuning.seeds for part in spec.parts()}


def effect_overlap(a: dict[str, Result], b: dict[str, Result], tuning_seeds: dict | None = None) -> pd.DataFrame:
    """Each effect (against the baseline, tuned arms) in both folders: its two estimates and
    whether their 95% CIs overlap and their signs agree. Columns: metric, the CONDITION columns,
    technique_set, mean_a, low_a, high_a, mean_b, low_b, high_b, overlap, intervals (both sides have
    one: two seeds or more), signed (either CI
    excludes 0), same_sign."""
    key = ["metric", *agg.CONDITION, "technique_set"]
    tuning_seeds = tuning_seeds or {}
    ea, eb = effects_of(a, tuning_seeds), effects_of(b, tuning_seeds)
    if ea.empty or eb.empty:
        return pd.DataFrame()
    both = ea[[*key, "mean", "low", "high"]].merge(eb[[*key, "mean", "low", "high"]], on=key, suffixes=("_a", "_b"))
    both["overlap"] = (both["low_a"] <= both["high_b"]) & (both["low_b"] <= both["high_a"])
    # With one seed on a side there is no interval to overlap: such effects are not compared.
    both["intervals"] = both[["low_a", "high_a", "low_b", "high_b"]].notna().all(axis=1)
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
        "effects": effect_overlap(a, b, tuning_seeds_of(Path(path_a).name)),
    }


SHOWN = 15  # differing cells printed unless --all


def text(found: dict[str, Any], path_a: Path, path_b: Path, tolerance: float, every: bool = False) -> str:
    """The comparison as a few lines and two tables a user can act on: the differing cells, the
    largest first (the first SHOWN of them unless `every`), and the effects that disagree."""
    differing, effects = found["differing"], found["effects"]
    lines = [
        f"A = {path_a}, B = {path_b}",
        f"cells: {found['both']} in both, {len(found['only_a'])} only in A, {len(found['only_b'])} only in B",
        f"final metrics (train/val/test accuracy and loss) differ by more than {tolerance:g} in {len(differing)} of "
        f"{found['both']} cells",
    ]
    if len(differing):
        ordered = differing.sort_values("largest", ascending=False)
        shown = (ordered if every else ordered.head(SHOWN)).assign(largest=lambda d: d["largest"].round(4))
        lines += ["", shown.to_string(index=False)]
        if len(shown) < len(differing):
            lines.append(
                f"...and {len(differing) - len(shown)} more (the {len(shown)} largest shown; --all lists every one)"
            )
        causes = differing["also_differs"].value_counts()
        lines += ["", "what else differs in those records: " + "; ".join(f"{k}: {n} cells" for k, n in causes.items())]
    if len(effects):
        signed = effects[effects["signed"]]
        bad = effects[(effects["intervals"] & ~effects["overlap"]) | (effects["signed"] & ~effects["same_sign"])]
        lines += [
            "",
            f"effects against the baseline (tuned arms): {len(effects)} in both, {int(effects['intervals'].sum())} with "
            f"an interval in both; their 95% CIs overlap in {int((effects['overlap'] & effects['intervals']).sum())}; "
            f"of the {len(signed)} whose CI excludes 0 in either, signs agree in "
            f"{int(signed['same_sign'].sum())}",
        ]
        if len(bad):
            bad = bad.assign(condition=condition_labels(bad))
            columns = ["metric", "condition", "technique_set", "mean_a", "mean_b", "overlap", "same_sign"]
            lines += ["", bad[columns].round(4).to_string(index=False)]
    return "\n".join(lines)

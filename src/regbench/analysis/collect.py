"""Stored results of a grid -> every table its report shows (Tables): the cells, the tuned arms,
the regime and trigger checks, effects, factorial and leave-one-out analyses, sweeps, rankings and
claims. Never imports TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis import claims, evidence
from regbench.grid.cell import Cell
from regbench.grid.expand import expand
from regbench.grid.spec import GridSpec
from regbench.store import Store


@dataclass(frozen=True)
class Tables:
    cells: pd.DataFrame  # every stored cell of the grid (ok and failed, every learning rate)
    arms: pd.DataFrame  # the cells of each technique set at its tuned learning rate: what is compared
    history: pd.DataFrame
    rates: pd.DataFrame  # the learning rate chosen per condition and set (evidence.choose_rates)
    regime: pd.DataFrame  # per condition: did the baseline overfit? (evidence.regime)
    engagement: pd.DataFrame  # per condition, set and trigger: seeds in which it fired
    summary: pd.DataFrame
    effects: pd.DataFrame  # with testable and why_not (evidence.judge)
    factorial: pd.DataFrame
    leave_one_out: pd.DataFrame
    ranking: pd.DataFrame
    sweeps: pd.DataFrame  # effects of the sets of each [[design.sweeps]], keyed by the swept value
    claims: pd.DataFrame  # each [[claims]] row tested: measured effect, n, verdict (claims.evaluate)
    missing: list[Cell]  # grid cells without a stored result, by id
    ignored: int  # stored results that are not cells of this grid
    environment: str  # library versions seen in the results, e.g. "keras 3.15.1, python 3.11.7"


def collect(spec: GridSpec, results_root: Path) -> Tables:
    """Read the stored results of the grid's cells and compute every table the report shows."""
    store = Store(results_root, spec.name)
    expected = {c.cell_id: c for c in expand(spec).cells}
    cells, history, environment = read_results(store, sorted(store.stored_ids() & expected.keys()))
    stored = store.stored_ids()  # after reading: a damaged file was moved aside and counts as missing
    rates = evidence.choose_rates(cells) if len(cells) else pd.DataFrame()
    arms = evidence.tuned(cells, rates)
    thresholds = {part.section: part.min_train_accuracy for part in spec.parts()}
    regime = evidence.regime(arms, thresholds) if len(arms) else pd.DataFrame()
    engagement = evidence.engagement(arms) if len(arms) else pd.DataFrame()
    summary = agg.summary(arms) if len(arms) else pd.DataFrame()
    effects = evidence.judge(agg.effects(arms), regime, engagement) if len(arms) else pd.DataFrame()

    def judged(part_of_design: str, analyse: Callable, label: str) -> pd.DataFrame:
        frame = per_section(spec, arms, part_of_design, analyse)
        return evidence.judge(frame, regime, engagement, label) if len(frame) else frame

    return Tables(
        cells=cells,
        arms=arms,
        history=history,
        rates=rates,
        regime=regime,
        engagement=engagement,
        summary=summary,
        effects=effects,
        sweeps=agg.sweep_effects(effects, sweep_points(spec, expected.values())),
        factorial=judged("factorial", agg.factorial_effects, "term"),
        leave_one_out=judged("leave_one_out", agg.leave_one_out, "technique"),
        ranking=agg.ranking(arms) if len(summary) else pd.DataFrame(),
        claims=claims.evaluate(spec, arms, history, regime, engagement) if spec.claims else pd.DataFrame(),
        missing=[expected[i] for i in sorted(expected.keys() - stored)],
        ignored=len(stored - expected.keys()),
        environment=environment,
    )


def per_section(spec: GridSpec, cells: pd.DataFrame, part_of_design: str, analyse: Callable) -> pd.DataFrame:
    """`analyse(cells, techniques)` for the design's `factorial` or `leave_one_out` techniques, per
    section with its own techniques (Holm's correction within each section)."""
    frames = []
    for part in spec.parts():
        mine = cells[cells["section"] == part.section] if part.section and len(cells) else cells
        techniques = getattr(part.design, part_of_design)
        if techniques and len(mine):
            frames.append(analyse(mine, techniques))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def sweep_points(spec: GridSpec, cells) -> dict[str, tuple[str, Any]]:
    """{set label: (sweep name, value)} of every [[design.sweeps]] point, e.g.
    "batchnorm+dropout(rate=0.25)" -> ("dropout.rate with batchnorm", 0.25)."""
    points = {}
    for section, sweep in ((p.section, sweep) for p in spec.parts() for sweep in p.design.sweeps):
        name = f"{sweep.technique}.{sweep.param}" + (f" with {'+'.join(sweep.with_)}" if sweep.with_ else "")
        members = {sweep.technique, *sweep.with_}
        for cell in (c for c in cells if c.section == section):
            params = dict(cell.techniques)
            if set(params) == members and dict(params[sweep.technique])[sweep.param] in sweep.values:
                points[cell.technique_set] = (name, dict(params[sweep.technique])[sweep.param])
    return points


def read_results(store: Store, ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(cells frame, history frame, environment text) of the stored `ids`. The records themselves
    are dropped on return: millions of small objects slow every later garbage collection."""
    records = [r for i in ids if (r := store.read(i)) is not None]  # a damaged file is moved aside
    environment = ", ".join(sorted({f"{k} {v}" for r in records for k, v in r.versions.items()}))
    return agg.cells_frame(records), agg.history_frame(records), environment or "unknown"

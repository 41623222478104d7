"""Stored results of a grid -> everything its report shows, computed once (Analysis): the cells,
the tuned arms, learning curves, the regime and trigger checks, effects, factorial and leave-one-out
analyses, sweeps, rankings, claims and their tallies, the technique overview, and why cells or
sections are missing. The report only renders this value. Never imports TensorFlow."""

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
class Analysis:
    cells: pd.DataFrame  # every stored cell of the grid (ok and failed, every learning rate)
    arms: pd.DataFrame  # the cells of each technique set at its tuned learning rate: what is compared
    history: pd.DataFrame
    curves: pd.DataFrame  # learning curves of the arms over seeds (aggregate.curves)
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
    overview: pd.DataFrame  # one row per technique over the testable conditions (aggregate.technique_overview)
    trigger_notes: dict[tuple, str]  # (*condition, set) -> whether its triggers fired (evidence.trigger_notes)
    claim_tally: str  # "7 supported, 5 suggestive, ..." over the claims table's rows
    article_tallies: dict[str, str]  # article -> its rows' tally
    not_run: dict[str, str]  # section -> why its missing cells are missing ("not run yet", "data missing (...)")


def collect(spec: GridSpec, results_root: Path) -> Analysis:
    """Read the stored results of the grid's cells and compute everything the report shows."""
    expected = {c.cell_id: c for c in expand(spec).cells}
    store = Store(results_root, spec.name, expected.values())  # a record must hold its grid cell
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

    claim_table = claims.evaluate(spec, arms, history, regime, engagement) if spec.claims else pd.DataFrame()
    missing = [expected[i] for i in sorted(expected.keys() - stored)]
    return Analysis(
        cells=cells,
        arms=arms,
        history=history,
        curves=agg.curves(history, arms) if len(summary) else pd.DataFrame(),
        rates=rates,
        regime=regime,
        engagement=engagement,
        summary=summary,
        effects=effects,
        sweeps=agg.sweep_effects(effects, sweep_points(spec, expected.values())),
        factorial=judged("factorial", agg.factorial_effects, "term"),
        leave_one_out=judged("leave_one_out", agg.leave_one_out, "technique"),
        ranking=agg.ranking(arms) if len(summary) else pd.DataFrame(),
        claims=claim_table,
        missing=missing,
        ignored=len(stored - expected.keys()),
        environment=environment,
        overview=agg.technique_overview(effects, arms) if len(effects) else pd.DataFrame(),
        trigger_notes=evidence.trigger_notes(engagement) if len(engagement) else {},
        claim_tally=claims.tally(claim_table) if len(claim_table) else "",
        article_tallies={a: claims.tally(rows) for a, rows in claim_table.groupby("article", sort=True)}
        if len(claim_table)
        else {},
        not_run=not_run(spec, cells, missing),
    )


def not_run(spec: GridSpec, cells: pd.DataFrame, missing: list[Cell]) -> dict[str, str]:
    """{section: why its missing cells are missing}: "not run yet" where some of its cells are
    stored, else the data is not on this machine or the section was never run."""
    sections = {cell.section for cell in missing}
    out = {}
    for part in spec.sections:
        if part.section in sections:
            started = len(cells) and (cells["section"] == part.section).any()
            out[part.section] = "not run yet" if started else claims.not_run_reason(spec, part)
    return out


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

"""Formatting helpers every part of the report's markdown uses: effects in percentage points with
their intervals, their verdicts and gap decomposition, p-values, condition labels, tables."""

from __future__ import annotations

import math

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis.labels import condition_label


def pp(mean: float, low: float, high: float) -> str:
    """'-3.1 pp [-5.0, -1.2]' (percentage points, 95% CI); the CI is omitted when undefined."""
    if not math.isfinite(mean):
        return "n/a"
    text = f"{signed(100 * mean)} pp"
    return text + (f" [{signed(100 * low)}, {signed(100 * high)}]" if math.isfinite(low) else " [n=1: no CI]")


def plus_minus(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 1) -> str:
    if not math.isfinite(mean):
        return "n/a"
    half = f" ± {scale * (high - mean):.{digits}f}" if math.isfinite(high) else ""
    value = f"{scale * mean:.{digits}f}"
    return f"{value.lstrip('-') if float(value) == 0 else value}{half}"  # never "-0.0"


def p_text(p: float) -> str:
    return "n/a" if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def cond(row) -> str:
    """The condition of a table row (a dict or Series with the aggregate.CONDITION columns), for display."""
    return condition_label(*(row[c] for c in agg.CONDITION))


def md_table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if len(frame) else "_none_"


def seeds_range(low: float, high: float) -> str:
    """'5–37 seeds' (or '5 seeds', '> 1000 seeds'): the seeds that would establish an effect, a range
    from the 95% CI of its spread; '' where unknown."""
    if not math.isfinite(low):
        return "more than 1,000 seeds" if low == math.inf else ""
    top = "more than 1,000" if high == math.inf else f"{int(high)}"
    return f"{int(low)} seeds" if top == f"{int(low)}" else f"{int(low)}–{top} seeds"


def signed(value: float, digits: int = 1) -> str:
    """'+1.2', '-0.4', and '0.0' rather than '-0.0' or '+0.0' for a value that rounds to zero."""
    text = f"{value:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def interval(low: float, high: float) -> str:
    """'[+1.0, +2.3] pp', or 'n/a' where undefined."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "n/a"
    return f"[{signed(100 * low)}, {signed(100 * high)}] pp"


# Verdict words on test accuracy per kind of row: a set against the baseline, a factorial main
# effect, an interaction (what the pair does beyond each alone), a leave-one-out contribution.
WORDS = {
    "technique_set": ("raises test accuracy", "lowers test accuracy"),
    "term": ("raises test accuracy", "lowers test accuracy"),
    "interaction": ("together add more test accuracy than each alone", "together add less test accuracy than each alone"),
    "technique": ("adds test accuracy to the recipe", "costs the recipe test accuracy"),
}  # fmt: skip


def verdict_text(r: pd.Series, up: str = "raises test accuracy", down: str = "lowers test accuracy") -> str:
    """The verdict of a judged row on test accuracy, with the seeds a suggestive one would need."""
    if r["evidence"] == "none":
        return "not distinguishable from 0"
    text = up if r["mean"] > 0 else down
    if r["evidence"] == "suggestive":
        needed = seeds_range(r.get("seeds_low", math.nan), r.get("seeds_high", math.nan))
        return f"suggestive: {text}" + (f" ({needed} to establish)" if needed else "")
    return text


def gap_parts(gap: pd.Series | None, train: pd.Series | None, test: pd.Series) -> str:
    """'-3.1 pp [-4.0, -2.2]: train -2.1, test +1.0' (Δ gap = Δ train - Δ test)."""
    if gap is None:
        return "n/a"
    parts = f"train {signed(100 * train['mean'])}, test {signed(100 * test['mean'])}" if train is not None else ""
    return pp(gap["mean"], gap["low"], gap["high"]) + (f": {parts}" if parts else "")


def spread_text(r: pd.Series) -> str:
    """How the effect varies across conditions: I², and the prediction interval for a new one."""
    if r["conditions"] < 2:
        return "one condition"
    text = f"I² {100 * r['i2']:.0f}%"
    if math.isfinite(r["pi_low"]):
        return text + f"; a new condition: {interval(r['pi_low'], r['pi_high'])}"
    return text + (f"; {r['note']}" if r["note"] else "")


def row_verdict(r: pd.Series, kind: str) -> str:
    """A row's verdict on test accuracy: not testable, outside every family, or its family's."""
    if r.get("why_not"):
        return f"not testable: {r['why_not']}"
    if r.get("outside"):
        return r["outside"] + (": outside every family" if r["outside"] == "control" else ", counted once")
    if not r.get("family"):
        return "not judged"
    return verdict_text(r, *WORDS[kind])


def anchor(title: str) -> str:
    """The link target GitHub (and most viewers) give a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")

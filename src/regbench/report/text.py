"""Formatting helpers every part of the report's markdown uses: effects in percentage points with
their intervals, p-values, condition labels, tables."""

from __future__ import annotations

import math

import pandas as pd

from regbench.analysis import aggregate as agg
from regbench.analysis.labels import condition_label


def family_sizes(frame: pd.DataFrame) -> pd.Series:
    """{family: its size} of the judged rows (family != "") of a table with the family columns."""
    judged = frame[frame["family"] != ""] if len(frame) and "family" in frame else frame.iloc[:0]
    return judged.groupby("family")["family_size"].first().astype(int) if len(judged) else pd.Series(dtype=int)


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


def anchor(title: str) -> str:
    """The link target GitHub (and most viewers) give a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")

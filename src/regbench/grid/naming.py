"""How a cell's data and technique set are named: set labels ('dropout+l2', 'dropout(rate=0.25)')
and data labels ('digits_imb10'), part of each cell's slug and technique_set column. How results are
named for people (short labels, conditions) is analysis/labels.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def data_label(dataset: str, imbalance: float | None) -> str:
    """'digits', or 'digits_imb10' for a long-tailed training subset (imbalance None or 0: stratified)."""
    return dataset + (f"_imb{imbalance:g}" if imbalance else "")


def value_text(v: Any) -> str:
    """A parameter's value in a label: 0.25, 1e-05, true, pretrain:font_digits."""
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def set_label(techniques: dict[str, dict[str, Any]], shown: dict[str, Iterable[str]]) -> str:
    """'dropout(rate=0.25)+l2': technique names, sorted, with the `shown` parameters' values;
    'baseline' for none."""
    parts = []
    for name in sorted(techniques):
        keys = [k for k in shown.get(name, ()) if k in techniques[name]]
        parts.append(name + (f"({','.join(f'{k}={value_text(techniques[name][k])}' for k in keys)})" if keys else ""))
    return "+".join(parts) or "baseline"


def varying_params(
    technique_sets: Iterable[dict[str, dict[str, Any]]], tuned: dict[str, Iterable[str]] | None = None
) -> dict[str, tuple[str, ...]]:
    """{technique: parameters that take more than one value across `technique_sets`}: what a label
    must show to tell a sweep's cells apart (e.g. {"dropout": ("rate",)}). `tuned` parameters
    ({technique: params}) vary too but are never shown: a tuned set keeps its name."""
    hidden = {(name, k) for name, keys in (tuned or {}).items() for k in keys}
    seen: dict[str, dict[str, set]] = {}
    for techniques in technique_sets:
        for name, params in techniques.items():
            for key, v in params.items():
                if (name, key) not in hidden:
                    seen.setdefault(name, {}).setdefault(key, set()).add(repr(v))
    varying = {name: tuple(sorted(k for k, vs in by_key.items() if len(vs) > 1)) for name, by_key in seen.items()}
    return {name: keys for name, keys in varying.items() if keys}

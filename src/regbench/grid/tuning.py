"""The candidates a technique set is tuned over (its learning rates times its tuned doses), and the
rule that picks one: the best mean validation accuracy, never test accuracy, never the seed being
judged. Used by the expansion (which cells exist), the run (the evaluation seeds of a grid with
dedicated tuning seeds wait for the choice) and the analysis (the arm each seed is judged at)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from regbench.grid.spec import Tune

Dose = tuple[str, str, Any]  # (technique, param, value)


class Candidate(NamedTuple):
    """One point a set is trained at: a learning rate and the tuned doses of its techniques."""

    learning_rate: float
    doses: tuple[Dose, ...] = ()

    def label(self) -> str:
        """'lr 0.003' or 'lr 0.003, dropout.rate 0.3'."""
        from regbench.grid.naming import value_text

        return ", ".join([f"lr {self.learning_rate:g}", *(f"{t}.{p} {value_text(v)}" for t, p, v in self.doses)])


def candidates(rates: Sequence[float], dims: Sequence[tuple[str, str, Sequence[Any]]], limit: int) -> list[Candidate]:
    """Every combination of `rates` (ascending) and the `dims` (technique, param, values), in that
    order, so that ties go to the smaller rate and the earlier dose; above `limit` combinations, a
    fixed quasi-random subset of `limit` (Halton points over the index grid, in the same order)."""
    axes = [sorted(rates), *(values for _, _, values in dims)]
    sizes = [len(a) for a in axes]
    if math.prod(sizes) <= limit:
        indices = list(itertools.product(*(range(n) for n in sizes)))
    else:
        indices = sorted(halton_indices(sizes, limit))
    return [
        Candidate(axes[0][i[0]], tuple((t, p, axes[k + 1][i[k + 1]]) for k, (t, p, _) in enumerate(dims)))
        for i in indices
    ]


def set_candidates(
    rates: Sequence[float], tune: Iterable[Tune], members: Iterable[tuple[str, Any]], limit: int
) -> list[Candidate]:
    """The candidates of a technique set (its `members`, (name, params) pairs): the `rates` times
    the doses of the `tune` entries ([tune.*]: technique, param, values) of its techniques."""
    names = {name for name, _ in members}
    return candidates(rates, [(t.technique, t.param, t.values) for t in tune if t.technique in names], limit)


def halton_indices(sizes: Sequence[int], count: int) -> set[tuple[int, ...]]:
    """`count` distinct points of the index grid `sizes`, from an unscrambled Halton sequence: the
    same subset on every machine, spread evenly over every axis (MLCommons' algorithmic-efficiency
    tunes by quasi-random search the same way)."""
    from scipy.stats import qmc

    sampler = qmc.Halton(d=len(sizes), scramble=False)
    found: set[tuple[int, ...]] = set()
    while len(found) < count:
        for point in sampler.random(count):
            found.add(tuple(min(n - 1, int(u * n)) for u, n in zip(point, sizes, strict=True)))
            if len(found) == count:
                break
    return found


def best(scores: Mapping[Candidate, Iterable[float]], order: Sequence[Candidate]) -> Candidate | None:
    """The candidate with the best mean of its `scores` (validation accuracies); ties and NaN go to
    the first in `order` (the smaller rate). None when no candidate has a finite score."""
    means = {}
    for candidate in order:
        values = [v for v in scores.get(candidate, ()) if math.isfinite(v)]
        if values:
            means[candidate] = sum(values) / len(values)
    if not means:
        return None
    top = max(means.values())
    return next(c for c in order if c in means and means[c] == top)


def at_edge(chosen: Candidate, order: Sequence[Candidate]) -> list[str]:
    """The tuned axes on which `chosen` is the smallest or largest value tried: 'the largest rate',
    'the smallest dropout.rate'. An optimum at an edge may lie beyond the candidates."""
    found = []
    rates = sorted({c.learning_rate for c in order})
    if len(rates) > 1 and chosen.learning_rate in (rates[0], rates[-1]):
        found.append(f"the {'smallest' if chosen.learning_rate == rates[0] else 'largest'} rate")
    for k, (technique, param, value) in enumerate(chosen.doses):
        values = sorted({c.doses[k][2] for c in order}, key=sort_key)
        if len(values) > 1 and value in (values[0], values[-1]):
            found.append(f"the {'smallest' if value == values[0] else 'largest'} {technique}.{param}")
    return found


def sort_key(value: Any) -> tuple:
    """Numbers by value, anything else (a placement, a source) by its text."""
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))

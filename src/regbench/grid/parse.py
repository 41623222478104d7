"""Parse and validate a grid file (TOML) into a GridSpec (grid/spec.py). Never imports TensorFlow.

Every problem is a UsageError with one line naming the file, the key and the allowed values.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from regbench.errors import UsageError
from regbench.grid.budget import Budget, merge_budget
from regbench.grid.checks import check_keys, make_dataclass, names, table, typed
from regbench.grid.claim_kinds import CLAIM_KINDS
from regbench.grid.spec import Claim, DatasetEntry, Design, GridSpec, Sweep, Tune, Tuning
from regbench.names import NAME_RULE, is_name
from regbench.records.validate import is_int
from regbench.train.datasets import DATASETS, get_dataset
from regbench.train.models import MODELS
from regbench.train.techniques import TECHNIQUES, get_technique

TOP_KEYS = (
    "budget",
    "claims",
    "datasets",
    "description",
    "design",
    "min_train_accuracy",
    "models",
    "regime",
    "seeds",
    "techniques",
    "tune",
    "tuning",
)
SECTIONED_KEYS = ("budget", "claims", "description", "min_train_accuracy", "models", "regime", "sections", "seeds", "techniques", "tune", "tuning")  # fmt: skip
SECTION_KEYS = ("budget", "datasets", "description", "design", "min_train_accuracy", "models", "name", "regime", "seeds", "setting", "techniques", "tune", "tuning")  # fmt: skip
REGIMES = ("fits", "gap")
SETTINGS = ("full", "cpu-sized")
DATASET_KEYS = ("name", "train_sizes", "models", "val_size", "split_seed", "imbalance")
# Bounds checked before anything runs: seeds as numpy's and Keras' generators take them
# (keras.utils.set_random_seed, numpy.random.default_rng: 0..2**32-1); a grid of more seeds, or of
# longer lists, would not be run; nesting deeper than any grid needs is refused before Python's
# parser recurses (5,000 nested arrays would exhaust its stack).
MAX_SEED = 2**32 - 1
MAX_SEEDS = 10_000
MAX_LIST = 1_000
MAX_DEPTH = 16
SPECIAL = re.compile(r"[\"'#\[\]{}]")  # what check_nesting looks at


def shipped_grids() -> list[str]:
    """Names of the grid files shipped in regbench/grids."""
    folder = resources.files("regbench") / "grids"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def resolve(grid: str) -> Path:
    """A path to a grid file, or the name of a shipped grid."""
    path = Path(grid)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise UsageError(f"{grid}: no such grid file")
        return path
    if grid in shipped_grids():
        return Path(str(resources.files("regbench") / "grids" / f"{grid}.toml"))
    raise UsageError(f"unknown grid '{grid}'; shipped: {', '.join(shipped_grids())}, or give a path to a .toml file")


def load_spec(grid: str) -> GridSpec:
    """Read and validate a grid file or shipped grid name."""
    path = resolve(grid)
    if not is_name(path.stem):  # the grid's name names its results and report folders
        raise UsageError(
            f"{path}: the grid's name {path.stem!r} is not allowed; allowed: {NAME_RULE} (e.g. 'quick.toml')"
        )
    try:
        text = path.read_text()
        check_nesting(text, str(path))
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    except RecursionError:  # what check_nesting did not see (it skips nothing TOML allows, but be sure)
        raise UsageError(f"{path}: arrays or tables nested too deeply; allowed: at most {MAX_DEPTH} levels") from None
    return parse(data, name=path.stem, path=str(path))


def check_nesting(text: str, path: str) -> None:
    """Refuse values nested deeper than MAX_DEPTH arrays and inline tables, naming the key, before
    tomllib recurses into them: one pass over the text's brackets, skipping strings and comments."""
    depth, key, i = 0, "", 0
    while match := SPECIAL.search(text, i):
        c, i = match.group(), match.start()
        if c in "\"'":
            i = string_end(text, i)
            continue
        if c == "#":  # a comment, to the end of its line
            i = text.find("\n", i) % (len(text) + 1)
            continue
        if c in "[{" and depth == 0:
            key = text[text.rfind("\n", 0, i) + 1 : i].split("=")[0].strip() or "a table header"
        depth = depth + 1 if c in "[{" else max(0, depth - 1)
        if depth > MAX_DEPTH:
            raise UsageError(
                f"{path}: {key}: nested more than {MAX_DEPTH} deep; allowed: at most {MAX_DEPTH} levels of arrays and tables"
            )
        i += 1


# The rest of a basic string after its opening quote(s): escapes may hide a quote; literal strings have none.
BASIC_END = {'"': re.compile(r'(?:[^"\\\n]|\\.)*"'), '"""': re.compile(r'(?:[^\\]|\\.)*?"""', re.S)}


def string_end(text: str, i: int) -> int:
    """Where the TOML string that opens at `i` ends (past its closing quote; the text's end if never)."""
    quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else text[i]
    start = i + len(quote)
    if quote[0] == "'":
        end = text.find(quote, start)
        return end + len(quote) if end >= 0 else len(text)
    found = BASIC_END[quote].match(text, start)
    return found.end() if found else len(text)


def parse(data: dict[str, Any], name: str, path: str) -> GridSpec:
    """A grid from its TOML table; with [[sections]], each section is parsed as a grid whose
    seeds, budget, models and technique parameters default to the top level's."""
    if "sections" not in data:
        spec = parse_grid(data, name, path)
        return replace(spec, claims=parse_claims(data.get("claims", []), (), path))

    def fail(key: str, problem: str) -> UsageError:
        return UsageError(f"{path}: {key}: {problem}")

    check_keys(data, SECTIONED_KEYS, "", fail)
    raw = data["sections"]
    if not isinstance(raw, list) or not raw:
        raise fail("sections", "must be a non-empty array of tables ([[sections]]) with name, design and datasets")
    sections = []
    for i, entry in enumerate(raw):
        where = f"sections[{i}]"
        entry = table(entry, where, fail)
        check_keys(entry, SECTION_KEYS, where, fail)
        section = typed(entry.get("name"), str, f"{where}.name", fail) if "name" in entry else ""
        if not is_name(section):
            raise fail(f"{where}.name", f"{section!r} is not allowed; allowed: {NAME_RULE} (e.g. 'A-cpu')")
        if section in (s.section for s in sections):
            raise fail(f"{where}.name", f"'{section}' names two sections; allowed: a name per section")
        setting = typed(entry.get("setting", "full"), Literal[SETTINGS], f"{where}.setting", fail)
        merged = {
            "seeds": data.get("seeds", [0]),
            "models": data.get("models", ["mlp"]),
            "min_train_accuracy": data.get("min_train_accuracy", 0.99),
            "regime": data.get("regime", "fits"),
            "budget": merge_budget(
                table(data.get("budget", {}), "budget", fail),
                table(entry.get("budget", {}), f"{where}.budget", fail),
                f"{where}.budget",
                fail,
            ),
            "techniques": merge_tables(data, entry, "techniques", where, fail),
            "tune": merge_tables(data, entry, "tune", where, fail),
            "tuning": table(data.get("tuning", {}), "tuning", fail)
            | table(entry.get("tuning", {}), f"{where}.tuning", fail),
        } | {
            k: v
            for k, v in entry.items()
            if k in TOP_KEYS and k not in ("budget", "claims", "techniques", "tune", "tuning")
        }
        spec = parse_grid(merged, name, path, where)
        sections.append(replace(spec, section=section, setting=setting))
    description = typed(data.get("description", ""), str, "description", fail)
    claims = parse_claims(data.get("claims", []), tuple(s.section for s in sections), path)
    return GridSpec(name, path, description, sections[0].seeds, (), Design(), (), tuple(sections), claims=claims)


def merge_tables(data: dict, entry: dict, key: str, where: str, fail) -> dict:
    """A section's `key` table of tables ([techniques.*], [tune.*]): the top level's, each inner
    table updated by the section's own."""
    top, own = table(data.get(key, {}), key, fail), table(entry.get(key, {}), f"{where}.{key}", fail)
    return {
        t: table(top.get(t, {}), f"{key}.{t}", fail) | table(own.get(t, {}), f"{where}.{key}.{t}", fail)
        for t in top | own
    }


def parse_claims(raw: Any, sections: tuple[str, ...], path: str) -> tuple[Claim, ...]:
    """[[claims]]: each names sections of this grid (none in a grid without sections). Whether
    `set` and `against` are technique sets of those sections is checked when the grid is expanded."""

    def fail(key: str, problem: str) -> UsageError:
        return UsageError(f"{path}: {key}: {problem}")

    if not isinstance(raw, list):
        raise fail("claims", "must be an array of tables ([[claims]]) with article, claim and sections")
    claims = []
    for i, entry in enumerate(raw):
        entry = table(entry, f"claims[{i}]", fail)
        if "kind" in entry:
            names([entry["kind"]], f"claims[{i}].kind", CLAIM_KINDS.names(), fail, "is not allowed")
        claim = make_dataclass(Claim, entry, f"claims[{i}]", fail)
        for section in claim.sections:
            if section not in sections:
                allowed = ", ".join(sections) if sections else "none (the grid has no [[sections]])"
                raise fail(f"claims[{i}].sections", f"unknown section '{section}'; allowed: {allowed}")
        if sections and not claim.sections:
            raise fail(f"claims[{i}].sections", f"missing; allowed: {', '.join(sections)}")
        claims.append(claim)
    return tuple(claims)


def parse_grid(data: dict[str, Any], name: str, path: str, where: str = "") -> GridSpec:
    def fail(key: str, problem: str) -> UsageError:
        return UsageError(f"{path}: {where + '.' if where else ''}{key}: {problem}")

    check_keys(data, TOP_KEYS, "", fail)
    seeds = parse_seeds(data.get("seeds", [0]), fail)
    budget_table = merge_budget({}, table(data.get("budget", {}), "budget", fail), "budget", fail)
    make_dataclass(Budget, budget_table, "budget", fail)  # so that its errors name [budget], not a dataset
    models = model_names(data.get("models", ["mlp"]), "models", fail)
    datasets = data.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise fail(
            "datasets", "must be a non-empty array of tables ([[datasets]]); allowed names: " + ", ".join(DATASETS)
        )
    entries = tuple(
        parse_dataset(table(entry, f"datasets[{i}]", fail), f"datasets[{i}]", budget_table, models, fail)
        for i, entry in enumerate(datasets)
    )
    techniques_table = table(data.get("techniques", {}), "techniques", fail)
    design = parse_design(table(data.get("design", {}), "design", fail), fail)
    used = sorted(
        {t for t in design.add_one + design.leave_one_out + design.factorial}
        | {t for s in design.sets for t in s}
        | {t for sw in design.sweeps for t in (sw.technique, *sw.with_)}
    )
    techniques = []
    for tname in sorted(set(used) | set(techniques_table)):
        names([tname], f"techniques.{tname}", TECHNIQUES.names(), fail)
        params = table(techniques_table.get(tname, {}), f"techniques.{tname}", fail)
        techniques.append((tname, make_dataclass(get_technique(tname), params, f"techniques.{tname}", fail)))
    sweeps = tuple(
        check_sweep_values(sw, techniques_table.get(sw.technique, {}), f"design.sweeps[{i}]", fail)
        for i, sw in enumerate(design.sweeps)
    )
    design = replace(design, sweeps=sweeps)
    description = typed(data.get("description", ""), str, "description", fail)
    threshold = typed(data.get("min_train_accuracy", 0.99), float, "min_train_accuracy", fail)
    if not 0 < threshold <= 1:
        raise fail("min_train_accuracy", f"{threshold!r} is out of range; allowed: 0 < min_train_accuracy <= 1")
    tune = parse_tune(table(data.get("tune", {}), "tune", fail), techniques_table, design, used, fail)
    tuning = make_dataclass(Tuning, table(data.get("tuning", {}), "tuning", fail), "tuning", fail)
    check_tuning(tuning, seeds, tune, entries, fail)
    spec = GridSpec(name, path, description, seeds, entries, design, tuple(techniques))
    rule = typed(data.get("regime", "fits"), Literal[REGIMES], "regime", fail)
    return replace(spec, min_train_accuracy=threshold, regime=rule, tune=tune, tuning=tuning)


def parse_tune(raw: dict, configured: dict, design: Design, used: list[str], fail) -> tuple[Tune, ...]:
    """[tune.<technique>] <param> = [candidates]: each candidate typed and range-checked as the
    parameter is ([techniques.*]); a swept parameter cannot also be tuned (a sweep is an axis to
    look at, tuning picks one value), and a tuned technique must be in some set of the design."""
    tunes = []
    for tname, params in raw.items():
        names([tname], f"tune.{tname}", TECHNIQUES.names(), fail)
        if tname not in used:
            raise fail(f"tune.{tname}", f"{tname} is in no technique set of the design; allowed: {', '.join(used)}")
        cls = get_technique(tname)
        allowed = [f.name for f in fields(cls) if f.init]
        for param, values in table(params, f"tune.{tname}", fail).items():
            where = f"tune.{tname}.{param}"
            if param not in allowed:
                raise fail(where, f"'{param}' is not a parameter of {tname}; allowed: {', '.join(allowed) or 'none'}")
            if not isinstance(values, list) or len(values) < 2 or len({repr(v) for v in values}) != len(values):
                raise fail(where, "must be a list of at least two distinct candidates to tune over")
            if any(sw.technique == tname and sw.param == param for sw in design.sweeps):
                raise fail(where, f"{tname}.{param} is also swept ([[design.sweeps]]); allowed: sweep it or tune it")
            checked = tuple(
                getattr(make_dataclass(cls, {**configured.get(tname, {}), param: v}, f"tune.{tname}", fail), param)
                for v in values
            )
            tunes.append(Tune(tname, param, checked))
    return tuple(tunes)


def check_tuning(tuning: Tuning, seeds: tuple[int, ...], tune: tuple[Tune, ...], entries, fail) -> None:
    """Dedicated tuning seeds must differ from the evaluation seeds, and need something to tune."""
    if overlap := sorted(set(tuning.seeds) & set(seeds)):
        raise fail("tuning.seeds", f"{overlap} are also evaluation seeds; allowed: seeds not in seeds ({list(seeds)})")
    if tuning.seeds and not tune and all(len(e.budget.rates) == 1 for e in entries):
        raise fail(
            "tuning.seeds", "nothing to tune; allowed: with several learning_rates or a [tune.<technique>] table"
        )


def parse_seeds(raw: Any, fail) -> tuple[int, ...]:
    """`seeds`: distinct integers in the range numpy and Keras seed their generators with."""
    if isinstance(raw, list) and len(raw) > MAX_SEEDS:  # before typing each one
        raise fail("seeds", f"{len(raw)} seeds; allowed: at most {MAX_SEEDS}")
    seeds = typed(raw, tuple[int, ...], "seeds", fail)
    if not seeds or len(set(seeds)) != len(seeds):
        raise fail("seeds", f"must be a non-empty list of distinct integers 0..{MAX_SEED}")
    for seed in seeds:
        if not 0 <= seed <= MAX_SEED:
            raise fail("seeds", f"{seed} is out of range; allowed: integers 0..{MAX_SEED} (numpy's and Keras' seeds)")
    return seeds


def model_names(raw: Any, where: str, fail) -> tuple[str, ...]:
    """A non-empty list of registered model names."""
    models = names(raw, where, MODELS.names(), fail)
    if not models:
        raise fail(where, f"must be a non-empty list; allowed: {', '.join(MODELS.names())}")
    return models


def parse_dataset(entry: dict, where: str, budget_table: dict, models: tuple[str, ...], fail) -> DatasetEntry:
    budget_keys = tuple(f.name for f in fields(Budget))
    check_keys(entry, DATASET_KEYS + budget_keys, where, fail)
    if "name" not in entry:
        raise fail(f"{where}.name", "missing; allowed: " + ", ".join(DATASETS))
    dname = names([entry["name"]], f"{where}.name", DATASETS.names(), fail)[0]
    info = get_dataset(dname)
    val_size = typed(
        entry.get("val_size", default_val_size(info, entry.get("train_sizes"))), int, f"{where}.val_size", fail
    )
    if not info.num_classes <= val_size < info.train_pool:
        raise fail(
            f"{where}.val_size", f"{val_size} is out of range; allowed: {info.num_classes}..{info.train_pool - 1}"
        )
    largest = info.train_pool - val_size
    raw_sizes = entry.get("train_sizes")
    if not isinstance(raw_sizes, list) or not raw_sizes:
        raise fail(
            f"{where}.train_sizes",
            f'must be a non-empty list; allowed: integers {info.num_classes}..{largest} or "all"',
        )
    if len(raw_sizes) > MAX_LIST:
        raise fail(f"{where}.train_sizes", f"{len(raw_sizes)} sizes; allowed: at most {MAX_LIST}")
    sizes = tuple(largest if s == "all" else typed(s, int, f"{where}.train_sizes", fail) for s in raw_sizes)
    for size in sizes:
        if not info.num_classes <= size <= largest:
            raise fail(
                f"{where}.train_sizes",
                f'{size} is out of range; allowed: {info.num_classes}..{largest} or "all" ({dname} with val_size {val_size})',
            )
    overrides = {k: entry[k] for k in budget_keys if k in entry}
    budget = make_dataclass(Budget, merge_budget(budget_table, overrides, where, fail), where, fail)
    own_models = model_names(entry["models"], f"{where}.models", fail) if "models" in entry else models
    split_seed = entry.get("split_seed", 0)
    if split_seed != "seed" and not (is_int(split_seed) and 0 <= split_seed <= MAX_SEED):
        raise fail(
            f"{where}.split_seed",
            f'{split_seed!r} is not allowed; allowed: an integer 0..{MAX_SEED}, or "seed" (a training subset per seed)',
        )
    imbalance = None
    if "imbalance" in entry:
        imbalance = typed(entry["imbalance"], float, f"{where}.imbalance", fail)
        # The rarest class needs an example, so the ratio can reach the smallest train size at most.
        if not 1 <= imbalance <= min(sizes):
            raise fail(
                f"{where}.imbalance",
                f"{imbalance!r} is out of range; allowed: a max/min class ratio >= 1 and <= {min(sizes)} (the "
                "smallest train size)",
            )
    return DatasetEntry(dname, tuple(dict.fromkeys(sizes)), own_models, val_size, split_seed, budget, imbalance)


def default_val_size(info, raw_sizes: Any) -> int:
    """The dataset's usual validation size, but no more than the entry's smallest training subset
    (at least one example per class): selection, early stopping and schedules should not see more
    labelled examples than training does."""
    sizes = (
        [s for s in raw_sizes if isinstance(s, int) and not isinstance(s, bool)] if isinstance(raw_sizes, list) else []
    )
    return max(info.num_classes, min([info.default_val_size, *sizes]))


def parse_design(data: dict, fail) -> Design:
    design = make_dataclass(Design, {k: v for k, v in data.items() if k != "sweeps"}, "design", fail)
    for key in ("add_one", "leave_one_out", "factorial"):
        names(list(getattr(design, key)), f"design.{key}", TECHNIQUES.names(), fail)
    for i, members in enumerate(design.sets):
        names(list(members), f"design.sets[{i}]", TECHNIQUES.names(), fail)
    raw = data.get("sweeps", [])
    if not isinstance(raw, list):
        raise fail("design.sweeps", "must be an array of tables ([[design.sweeps]]) with technique, param, values")
    sweeps = tuple(
        parse_sweep(table(x, f"design.sweeps[{i}]", fail), f"design.sweeps[{i}]", fail) for i, x in enumerate(raw)
    )
    for i, sweep in enumerate(sweeps):
        # A swept technique's labels show its parameter ("dropout(rate=0.5)") wherever it appears,
        # so factorial and leave-one-out analyses, which look for "dropout", would lose it.
        for part in ("factorial", "leave_one_out"):
            if sweep.technique in getattr(design, part):
                raise fail(
                    f"design.sweeps[{i}].technique",
                    f"{sweep.technique} is also in design.{part}, whose analysis would lose it; allowed: a technique "
                    "outside factorial and leave_one_out (or sweep it in a section of its own)",
                )
    design = replace(design, sweeps=sweeps)
    if not (design.baseline or design.add_one or design.leave_one_out or design.factorial or design.sets or sweeps):
        raise fail(
            "design",
            "the grid has no technique sets; allowed keys: baseline = true, add_one, leave_one_out, factorial, sets, sweeps",
        )
    return design


def parse_sweep(entry: dict, where: str, fail) -> Sweep:
    """One [[design.sweeps]] table; the values' types and ranges are checked once the technique's
    configured parameters are known (`check_sweep_values`)."""
    check_keys(entry, ("param", "technique", "values", "with"), where, fail)
    for key in ("technique", "param", "values"):
        if key not in entry:
            raise fail(f"{where}.{key}", "missing; a sweep needs technique, param and values")
    technique = names(entry["technique"], f"{where}.technique", TECHNIQUES.names(), fail)[0]
    params = [f.name for f in fields(get_technique(technique)) if f.init]
    param = typed(entry["param"], str, f"{where}.param", fail)
    if param not in params:
        raise fail(
            f"{where}.param", f"'{param}' is not a parameter of {technique}; allowed: {', '.join(params) or 'none'}"
        )
    values = entry["values"]
    if (
        not isinstance(values, list)
        or not 2 <= len(values) <= MAX_LIST
        or len({repr(v) for v in values}) != len(values)
    ):
        raise fail(f"{where}.values", f"must be a list of at least two distinct values (at most {MAX_LIST})")
    with_ = names(entry.get("with", []), f"{where}.with", TECHNIQUES.names(), fail)
    if technique in with_:
        raise fail(f"{where}.with", f"lists the swept technique {technique}; allowed: other techniques")
    return Sweep(technique, param, tuple(values), with_)


def check_sweep_values(sweep: Sweep, configured: dict, where: str, fail) -> Sweep:
    """The sweep with each value typed and range-checked as `technique.param` (e.g. a dropout rate of
    1.5 fails like `[techniques.dropout] rate = 1.5` would, naming the sweep)."""
    cls = get_technique(sweep.technique)
    values = tuple(
        getattr(make_dataclass(cls, {**configured, sweep.param: v}, where, fail), sweep.param) for v in sweep.values
    )
    return replace(sweep, values=values)

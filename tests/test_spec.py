"""Grid files: valid ones parse, bad ones give one line naming file, key and allowed values, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from regbench.cli import main
from regbench.errors import UsageError
from regbench.grid.parse import load_spec, shipped_grids
from tests.helpers import TINY_GRID


def test_shipped_grids_parse():
    assert "quick" in shipped_grids()
    for name in shipped_grids():
        spec = load_spec(name)
        assert spec.name == name and all(part.datasets for part in spec.parts())


def test_a_steps_budget_replaces_an_inherited_epochs_budget_and_back(write_grid):
    text = TINY_GRID.replace("epochs = 3", "epochs = 3\nlearning_rates = [0.01, 0.003]").replace(
        "val_size = 60", "val_size = 60\nsteps = 400"
    )
    text += '[[datasets]]\nname = "moons"\ntrain_sizes = [30]\nlearning_rate = 0.02\n'
    digits, moons = load_spec(str(write_grid(text))).datasets
    assert (digits.budget.steps, digits.budget.epochs, digits.budget.eval_every) == (400, None, 16)  # 25 evaluations
    assert digits.budget.rates == (0.01, 0.003)
    assert (moons.budget.steps, moons.budget.epochs, moons.budget.rates) == (None, 3, (0.02,))


def test_learning_rates_multiply_the_cells_and_show_in_slugs(write_grid):
    from regbench.grid.expand import expand

    plain = expand(load_spec(str(write_grid()))).cells
    tuned = expand(
        load_spec(str(write_grid(TINY_GRID.replace("epochs = 3", "epochs = 3\nlearning_rates = [0.001, 0.01]"))))
    ).cells
    assert len(tuned) == 2 * len(plain) and {c.learning_rate for c in tuned} == {0.001, 0.01}
    assert all("/lr0.01/" in c.slug or "/lr0.001/" in c.slug for c in tuned)
    assert not any("/lr" in c.slug for c in plain)
    # a grid with one rate keeps its cell ids: the rate at 0.001 is the default learning_rate's
    assert {c.cell_id for c in plain} <= {c.cell_id for c in tuned}


def test_defaults_and_overrides(write_grid):
    spec = load_spec(str(write_grid(TINY_GRID + "epochs = 7\n")))
    entry = spec.datasets[0]
    assert entry.budget.epochs == 7 and entry.budget.batch_size == 32 and entry.budget.optimizer == "adam"
    assert spec.technique("dropout").rate == 0.5  # the technique's default


SWEEP = '[[design.sweeps]]\ntechnique = "dropout"\nparam = "{param}"\nvalues = {values}\n'

CASES = {
    "sweep of an unknown parameter": (
        TINY_GRID + SWEEP.format(param="ratio", values="[0.1, 0.2]"),
        "design.sweeps[0].param: 'ratio' is not a parameter of dropout",
        "allowed: rate, placement",
    ),
    "sweep value out of range": (
        TINY_GRID + SWEEP.format(param="rate", values="[0.1, 1.5]"),
        "design.sweeps[0].rate: 1.5 is out of range",
        "0 <= rate < 1",
    ),
    "sweep of one value": (
        TINY_GRID + SWEEP.format(param="rate", values="[0.1]"),
        "design.sweeps[0].values",
        "at least two distinct values",
    ),
    "unknown top key": (
        TINY_GRID.replace("seeds = [1]", "seeds = [1]\nepoch = 3"),
        "epoch: unknown key",
        "allowed: budget, claims, datasets",
    ),
    "unknown budget key": (
        TINY_GRID.replace("epochs = 3", "epochs = 3\nlr = 0.1"),
        "budget.lr: unknown key",
        "learning_rate",
    ),
    "zero epochs": (TINY_GRID.replace("epochs = 3", "epochs = 0"), "budget.epochs", "epochs >= 1"),
    "dropout rate 1.5": (TINY_GRID + "[techniques.dropout]\nrate = 1.5\n", "techniques.dropout.rate", "0 <= rate < 1"),
    "negative l2": (TINY_GRID + "[techniques.l2]\nfactor = -0.1\n", "techniques.l2.factor", "factor >= 0"),
    "rotation 200 degrees": (
        TINY_GRID + "[techniques.augmentation]\nrotation = 200.0\n",
        "techniques.augmentation.rotation",
        "0 <= rotation <= 180",
    ),
    "wrong type": (TINY_GRID + "[techniques.dropout]\nrate = 'high'\n", "techniques.dropout.rate", "allowed: float"),
    "unknown technique": (
        TINY_GRID.replace('add_one = ["dropout"]', 'add_one = ["dropuot"]'),
        "design.add_one",
        "allowed: augmentation, batchnorm, best_checkpoint, capacity, class_weights, dropout",
    ),
    "unknown dataset": (
        TINY_GRID.replace('name = "digits"', 'name = "digitz"'),
        "datasets[0].name",
        "allowed: cifar10, digits",
    ),
    "unknown model": (TINY_GRID.replace('models = ["mlp"]', 'models = ["resnet"]'), "models", "allowed: cnn1d, mlp"),
    "train size too large": (
        TINY_GRID.replace("train_sizes = [60]", "train_sizes = [99999]"),
        "datasets[0].train_sizes",
        "allowed: 10..1377",
    ),
    "bad literal": (
        TINY_GRID + "[techniques.early_stopping]\nmonitor = 'loss'\n",
        "techniques.early_stopping.monitor",
        "allowed: val_loss, val_accuracy",
    ),
    "empty design": (TINY_GRID.replace('add_one = ["dropout"]', ""), "design", "allowed keys: baseline"),
    "no datasets": ("seeds = [1]\n[design]\nbaseline = true\n", "datasets", "allowed names: cifar10"),
    "unknown parameter": (
        TINY_GRID + "[techniques.dropout]\nrat = 0.2\n",
        "techniques.dropout.rat",
        "allowed: placement, rate",
    ),
    "imbalance below 1": (
        TINY_GRID.replace("train_sizes = [60]", "train_sizes = [60]\nimbalance = 0.5"),
        "datasets[0].imbalance",
        "max/min class ratio >= 1",
    ),
    "unknown transfer source": (
        TINY_GRID + "[techniques.transfer]\nsource = 'imagenet:AlexNet'\n",
        "techniques.transfer.source",
        "pretrain:cifar10",
    ),
    "duplicate seeds": (TINY_GRID.replace("seeds = [1]", "seeds = [1, 1]"), "seeds", "distinct"),
    "steps with epochs": (
        TINY_GRID.replace("epochs = 3", "epochs = 3\nsteps = 100"),
        "budget.steps",
        "epochs and steps exclude each other; allowed: one of them in a table",
    ),
    "steps with epochs in a dataset": (
        TINY_GRID.replace("val_size = 60", "val_size = 60\nsteps = 100\nepochs = 4"),
        "datasets[0].steps",
        "allowed: one of them in a table",
    ),
    "eval_every larger than steps": (
        TINY_GRID.replace("epochs = 3", "steps = 100\neval_every = 200"),
        "budget.eval_every: 200 is out of range",
        "1 <= eval_every <= steps (100)",
    ),
    "eval_every not a divisor": (
        TINY_GRID.replace("epochs = 3", "steps = 100\neval_every = 30"),
        "budget.eval_every: 30 is out of range",
        "a divisor of steps (100)",
    ),
    "eval_every with epochs": (
        TINY_GRID.replace("epochs = 3", "epochs = 3\neval_every = 10"),
        "budget.eval_every",
        "only with a steps budget",
    ),
    "zero steps": (TINY_GRID.replace("epochs = 3", "steps = 0"), "budget.steps: 0 is out of range", "steps >= 1"),
    "empty learning_rates": (
        TINY_GRID.replace("epochs = 3", "epochs = 3\nlearning_rates = []"),
        "budget.learning_rates",
        "a non-empty list of distinct rates > 0",
    ),
    "non-positive learning rate": (
        TINY_GRID.replace("epochs = 3", "epochs = 3\nlearning_rates = [0.01, -0.1]"),
        "budget.learning_rates",
        "a non-empty list of distinct rates > 0",
    ),
    "learning_rate with learning_rates": (
        TINY_GRID.replace("epochs = 3", "epochs = 3\nlearning_rate = 0.1\nlearning_rates = [0.01]"),
        "budget.learning_rates",
        "learning_rate and learning_rates exclude each other",
    ),
    "duplicate conditions are silently collapsed": (
        TINY_GRID + '[[datasets]]\nname = "digits"\ntrain_sizes = [60, 100]\nepochs = 9\n',
        "datasets[1]: digits n=60 mlp is already a condition of datasets[0]",
        "allowed: one entry per dataset, train size and model",
    ),
    "sweeps hide factorial factors": (
        TINY_GRID.replace('add_one = ["dropout"]', 'factorial = ["dropout", "l2"]')
        + SWEEP.format(param="rate", values="[0.1, 0.2]"),
        "design.sweeps[0].technique: dropout is also in design.factorial",
        "allowed: a technique outside factorial and leave_one_out",
    ),
    "threshold above 1": (
        TINY_GRID.replace("seeds = [1]", "seeds = [1]\nmin_train_accuracy = 1.5"),
        "min_train_accuracy: 1.5 is out of range",
        "0 < min_train_accuracy <= 1",
    ),
    "threshold zero": (
        TINY_GRID.replace("seeds = [1]", "seeds = [1]\nmin_train_accuracy = 0"),
        "min_train_accuracy: 0.0 is out of range",
        "0 < min_train_accuracy <= 1",
    ),
    "bad toml": (TINY_GRID + "[budget\n", "invalid TOML", ""),
    "one candidate to tune over": (
        TINY_GRID + "[tune.dropout]\nrate = [0.3]\n",
        "tune.dropout.rate",
        "must be a list of at least two distinct candidates",
    ),
    "empty candidate list": (TINY_GRID + "[tune.dropout]\nrate = []\n", "tune.dropout.rate", "at least two distinct"),
    "candidate of the wrong type": (
        TINY_GRID + '[tune.dropout]\nrate = [0.1, "half"]\n',
        "tune.dropout.rate",
        "'half' has the wrong type; allowed: float",
    ),
    "candidate out of range": (
        TINY_GRID + "[tune.dropout]\nrate = [0.1, 1.5]\n",
        "tune.dropout.rate: 1.5 is out of range",
        "0 <= rate < 1",
    ),
    "tuning a parameter a technique lacks": (
        TINY_GRID + "[tune.dropout]\nratio = [0.1, 0.2]\n",
        "tune.dropout.ratio: 'ratio' is not a parameter of dropout",
        "allowed: rate, placement",
    ),
    "tuning a technique the design lacks": (
        TINY_GRID + "[tune.l2]\nfactor = [0.001, 0.01]\n",
        "tune.l2: l2 is in no technique set of the design",
        "allowed: dropout",
    ),
    "tuning a swept parameter": (
        TINY_GRID + SWEEP.format(param="rate", values="[0.1, 0.2]") + "[tune.dropout]\nrate = [0.3, 0.5]\n",
        "tune.dropout.rate: dropout.rate is also swept",
        "allowed: sweep it or tune it",
    ),
    "tuning seeds that are evaluation seeds": (
        TINY_GRID.replace("epochs = 3", "epochs = 3\nlearning_rates = [0.001, 0.01]") + "[tuning]\nseeds = [1, 7]\n",
        "tuning.seeds: [1] are also evaluation seeds",
        "allowed: seeds not in seeds",
    ),
    "tuning seeds with nothing to tune": (
        TINY_GRID + "[tuning]\nseeds = [7, 8]\n",
        "tuning.seeds: nothing to tune",
        "allowed: with several learning_rates or a [tune.<technique>] table",
    ),
    "a control the design does not have": (
        TINY_GRID.replace('add_one = ["dropout"]', 'add_one = ["dropout"]\ncontrols = ["l2"]'),
        "design.controls: 'l2' is not a technique set of the design",
        "allowed: baseline, dropout",
    ),
}


def budget(line: str) -> str:
    return TINY_GRID.replace("epochs = 3", line)


# Every numeric key bounded before anything runs, its allowed range in the error (issue 24).
BOUNDS = {
    "batch size beyond the cap": (TINY_GRID.replace("batch_size = 32", "batch_size = 1000000000000"), "budget.batch_size", "1 <= batch_size <= 65536"),
    "steps beyond the cap": (budget("steps = 1000000000000000000"), "budget.steps", "steps >= 1 and steps <= 10000000"),
    "epochs beyond the cap": (budget("epochs = 1000000000000000000"), "budget.epochs", "epochs >= 1 and epochs <= 100000"),
    "infinite learning rate": (budget("epochs = 3\nlearning_rate = inf"), "budget.learning_rate", "a finite number"),
    "NaN learning rate": (budget("epochs = 3\nlearning_rate = nan"), "budget.learning_rate", "a finite number"),
    "learning rate beyond float32": (budget("epochs = 3\nlearning_rate = 1e300"), "budget.learning_rate", "1e-38 <= learning_rate <= 1e38"),
    "learning rate below float32": (budget("epochs = 3\nlearning_rate = 1e-300"), "budget.learning_rate", "1e-38 <= learning_rate <= 1e38"),
    "learning rates beyond float32": (budget("epochs = 3\nlearning_rates = [0.01, 1e300]"), "budget.learning_rates", "each 1e-38 <= rate <= 1e38"),
    "NaN momentum": (budget("epochs = 3\noptimizer = 'sgd'\nmomentum = nan"), "budget.momentum", "a finite number"),
    "infinite l2 factor": (TINY_GRID + "[techniques.l2]\nfactor = inf\n", "techniques.l2.factor", "a finite number"),
    "l2 factor beyond float32": (TINY_GRID + "[techniques.l2]\nfactor = 1e300\n", "techniques.l2.factor", "factor <= 1e+38"),
    "l1_l2 beyond float32": (TINY_GRID + "[techniques.l1_l2]\nl1 = 1e39\n", "techniques.l1_l2.l1", "l1 <= 1e+38"),
    "patience beyond the cap": (TINY_GRID + "[techniques.early_stopping]\npatience = 1000000000\n", "techniques.early_stopping.patience", "1 <= patience <= 100000"),
    "plateau min_lr beyond float32": (TINY_GRID + "[techniques.reduce_lr_on_plateau]\nmin_lr = 1e300\n", "techniques.reduce_lr_on_plateau.min_lr", "min_lr <= 1e+38"),
    "pretraining forever": (TINY_GRID + "[techniques.transfer]\npretrain_epochs = 1000000000\n", "techniques.transfer.pretrain_epochs", "pretrain_epochs <= 100000"),
    "fine-tuning forever": (TINY_GRID + "[techniques.transfer]\nfine_tune_epochs = 1000000000\n", "techniques.transfer.fine_tune_epochs", "0 <= fine_tune_epochs <= 100000"),
    "huge ImageNet inputs": (TINY_GRID + "[techniques.transfer]\nimage_size = 100000\n", "techniques.transfer.image_size", "image_size <= 1024"),
    "noise of any size": (TINY_GRID + "[techniques.augmentation]\nnoise = 1e30\n", "techniques.augmentation.noise", "0 <= noise <= 10"),
    "NaN dropout rate in a sweep": (TINY_GRID + SWEEP.format(param="rate", values="[0.1, nan]"), "design.sweeps[0].rate", "a finite number"),
    "negative seed": (TINY_GRID.replace("seeds = [1]", "seeds = [-1]"), "seeds", "integers 0..4294967295"),
    "seed beyond 2**32": (TINY_GRID.replace("seeds = [1]", "seeds = [9223372036854775807]"), "seeds", "integers 0..4294967295"),
    "two million seeds": (TINY_GRID.replace("seeds = [1]", f"seeds = {list(range(2_000_000))}"), "seeds", "at most 10000"),
    "seeds nested 5,000 deep": (TINY_GRID.replace("seeds = [1]", "seeds = " + "[" * 5000 + "1" + "]" * 5000), "seeds", "at most 16 levels"),
    "negative split seed": (TINY_GRID.replace("val_size = 60", "val_size = 60\nsplit_seed = -1"), "datasets[0].split_seed", "an integer 0..4294967295"),
    "NaN imbalance": (TINY_GRID.replace("val_size = 60", "val_size = 60\nimbalance = nan"), "datasets[0].imbalance", "a finite number"),
    "infinite imbalance": (TINY_GRID.replace("val_size = 60", "val_size = 60\nimbalance = inf"), "datasets[0].imbalance", "a finite number"),
    "imbalance beyond the train size": (TINY_GRID.replace("val_size = 60", "val_size = 60\nimbalance = 1e300"), "datasets[0].imbalance", "<= 60 (the smallest train size)"),
    "no models": (TINY_GRID.replace('models = ["mlp"]', "models = []"), "models: must be a non-empty list", "allowed: cnn1d, mlp"),
    "no models for a dataset": (TINY_GRID.replace("val_size = 60", "val_size = 60\nmodels = []"), "datasets[0].models", "allowed: cnn1d, mlp"),
    "claim epoch beyond the cap": (TINY_GRID + '[[claims]]\narticle = "A"\nclaim = "c"\nmetric = "val_accuracy"\nepoch = 1000000000\n', "claims[0].epoch", "0 <= epoch <= 100000"),
    "infinite claim range": (TINY_GRID + '[[claims]]\narticle = "A"\nclaim = "c"\nkind = "level"\nhigh = inf\n', "claims[0].high", "a finite number"),
}  # fmt: skip
CASES |= BOUNDS

SWEEPS = '[[design.sweeps]]\ntechnique = "dropout"\nparam = "rate"\nvalues = [0.1, 0.2]\n'
CASES |= {  # every way a [[design.sweeps]] table can be wrong, each named by its key
    "sweep without values": (TINY_GRID + SWEEPS.replace("values = [0.1, 0.2]\n", ""), "design.sweeps[0].values: missing", "a sweep needs technique, param and values"),
    "sweep without a technique": (TINY_GRID + SWEEPS.replace('technique = "dropout"\n', ""), "design.sweeps[0].technique: missing", "a sweep needs technique, param and values"),
    "sweep of an unknown technique": (TINY_GRID + SWEEPS.replace('"dropout"', '"dropuot"'), "design.sweeps[0].technique", "allowed: augmentation"),
    "sweep param not a string": (TINY_GRID + SWEEPS.replace('param = "rate"', "param = 3"), "design.sweeps[0].param: 3 has the wrong type", "allowed: str"),
    "sweep with an unknown key": (TINY_GRID + SWEEPS + "step = 2\n", "design.sweeps[0].step: unknown key", "allowed: param, technique, values, with"),
    "sweep with itself": (TINY_GRID + SWEEPS + 'with = ["dropout"]\n', "design.sweeps[0].with: lists the swept technique dropout", "allowed: other techniques"),
    "sweep with an unknown technique": (TINY_GRID + SWEEPS + 'with = ["nope"]\n', "design.sweeps[0].with", "allowed: augmentation"),
    "sweep of repeated values": (TINY_GRID + SWEEPS.replace("[0.1, 0.2]", "[0.1, 0.1]"), "design.sweeps[0].values", "at least two distinct values (at most 1000)"),
    "sweep of 1,001 values": (TINY_GRID + SWEEPS.replace("[0.1, 0.2]", str([i / 1001 for i in range(1001)])), "design.sweeps[0].values", "(at most 1000)"),
}  # fmt: skip


def test_a_sweep_of_1000_values_is_allowed(write_grid):
    """MAX_LIST values are the most a sweep may list: exactly that many parse."""
    text = TINY_GRID + SWEEPS.replace("[0.1, 0.2]", str([i / 1000 for i in range(1000)]))
    (part,) = load_spec(str(write_grid(text))).parts()
    assert len(part.design.sweeps[0].values) == 1000


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["run", "list"])
def test_bad_grid_is_one_line_exit_2(case, command, write_grid, tmp_path, capsys):
    text, key, allowed = CASES[case]
    path = write_grid(text)
    code = main([command, str(path), "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert str(path) in err and key in err and allowed in err, err
    assert not (tmp_path / "results").exists()  # nothing written


def test_unknown_grid_name(capsys):
    assert main(["list", "no_such_grid"]) == 2
    assert "shipped: " in capsys.readouterr().err


def test_console_script_exit_code(write_grid):
    path = write_grid(TINY_GRID.replace("epochs = 3", "epochs = -1"))
    proc = subprocess.run([sys.executable, "-m", "regbench.cli", "run", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"regbench: error: {path}: budget.epochs: -1 is out of range; allowed: epochs >= 1"
    ]


def test_load_spec_does_not_import_tensorflow():
    code = "import sys; from regbench.grid.expand import expand; from regbench.grid.parse import load_spec; expand(load_spec('quick')); print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_usage_error_message_is_one_line():
    with pytest.raises(
        UsageError,
        match="unknown technique 'dropuot'; known: augmentation, batchnorm, best_checkpoint, capacity, class_weights, dropout",
    ):
        from regbench.train.techniques import get_technique

        get_technique("dropuot")


@pytest.mark.parametrize("argv", [["run", "--jobs", "0"], ["run", "--jobz", "2"], ["list", "--only"], ["nope"]])
def test_bad_option_is_one_line_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("regbench") and "error:" in err, err


def test_tuned_doses_multiply_the_cells_keep_the_set_label_and_show_in_slugs(write_grid):
    from regbench.grid.expand import expand

    plain = expand(load_spec(str(write_grid()))).cells
    text = (
        TINY_GRID.replace("epochs = 3", "epochs = 3\nlearning_rates = [0.001, 0.01]")
        + "[tune.dropout]\nrate = [0.1, 0.5]\n"
    )
    cells = expand(load_spec(str(write_grid(text)))).cells
    dropout = [c for c in cells if c.technique_names == ("dropout",)]
    assert len(dropout) == 4 and {c.technique_set for c in dropout} == {"dropout"}  # 2 rates x 2 doses, one label
    assert {c.slug for c in dropout} == {
        f"digits/n60/mlp/dropout/lr{lr}/dropout.rate={rate}/s1" for lr in ("0.001", "0.01") for rate in ("0.1", "0.5")
    }
    assert {c.cell_id for c in plain} <= {c.cell_id for c in cells}  # lr 0.001 and dropout 0.5 are the old cells


def test_tuning_seeds_run_every_candidate_and_the_evaluation_seeds_wait(write_grid, tmp_path, monkeypatch):
    from regbench.grid.expand import expand
    from regbench.grid.stored import expand_stored
    from regbench.records import validate
    from regbench.records.result import Result
    from regbench.records.store import Store
    from tests.synthetic import synthetic_record

    text = TINY_GRID.replace("epochs = 3", "epochs = 3\nlearning_rates = [0.001, 0.01]") + "[tuning]\nseeds = [7, 8]\n"
    spec = load_spec(str(write_grid(text)))
    first = expand(spec)
    assert {c.seed for c in first.cells} == {7, 8} and len(first.cells) == 2 * 2 * 2  # 2 sets x 2 rates x 2 seeds
    assert [p.seeds for p in first.pending] == [(1,), (1,)]
    store = Store(tmp_path, spec.name)
    for cell in first.cells:  # validation prefers 0.01 for the baseline, 0.001 for dropout
        prefers = 0.01 if not cell.technique_names else 0.001
        val = 0.9 if cell.learning_rate == prefers else 0.8
        record = synthetic_record(cell)
        record["final"]["val"]["accuracy"] = val
        store.write(Result.from_json(record))
    resolved = expand_stored(spec, store)
    chosen = {(c.technique_set, c.learning_rate) for c in resolved.cells if c.seed == 1}
    assert chosen == {("baseline", 0.01), ("dropout", 0.001)} and not resolved.pending

    # A damaged tuning record counts as missing: its arm waits until it is rerun, never choosing
    # on the seeds that happen to be readable.
    damaged = next(c for c in first.cells if c.technique_names == ("dropout",))
    store.path(damaged.cell_id).write_text("{cut short")
    again = expand_stored(spec, Store(tmp_path, spec.name))
    assert {c.technique_set for c in again.cells if c.seed == 1} == {"baseline"} and len(again.pending) == 1

    # `only` selects cells (as `run --only` does); the store still checks every cell's record
    # against its grid cell. A record of the baseline's evaluation cell that holds the dropout one
    # under an id that matches (a 48-bit id can be made to collide) is damaged all the same.
    picked = expand_stored(spec, fresh := Store(tmp_path, spec.name), ("*dropout*",))
    assert {c.technique_set for c in picked.cells} == {"dropout"} and len(picked.cells) == 4  # its tuning cells
    baseline, dropout = (
        next(c for c in resolved.cells if c.seed == 1 and c.technique_set == s) for s in ("baseline", "dropout")
    )
    store.write(Result.from_json(synthetic_record(dropout) | {"cell_id": baseline.cell_id}))
    monkeypatch.setattr(validate, "cell_id_of", lambda cell: baseline.cell_id)
    assert fresh.read(baseline.cell_id) is None and not fresh.path(baseline.cell_id).exists()  # moved aside


def test_no_parse_step_grows_with_a_value(write_grid):
    """The default evaluation interval (a divisor search) takes the same time at the largest steps
    allowed as at 100, and gives what the search over every divisor gave."""
    import time

    from regbench.grid.budget import MAX_STEPS, default_eval_every

    def every_divisor(steps: int) -> int:
        return max(d for d in range(1, max(1, steps // 25) + 1) if steps % d == 0)

    assert all(default_eval_every(s) == every_divisor(s) for s in [*range(1, 3000), 99991, 10**5, 65536, 720720])
    start = time.perf_counter()
    spec = load_spec(str(write_grid(TINY_GRID.replace("epochs = 3", f"steps = {MAX_STEPS}"))))
    assert spec.datasets[0].budget.eval_every == MAX_STEPS // 25 and time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("changes", "key", "allowed"),
    [
        ({"kind": "levell"}, "kind", "level"),
        ({"epoch": 3}, "metric", "(a learning curve)"),  # a claim at an epoch reads a curve
        ({"kind": "rises_after_lr_drop"}, "metric", "(a learning curve)"),  # so does a curve-only kind
        ({"metric": "val_accuracy", "epoch": -1}, "epoch", "0 <= epoch <="),
        ({"metric": "val_accuracy", "step": -1}, "step", "0 <= step <="),
        ({"metric": "val_accuracy", "epoch": 2, "step": 10}, "step", "epoch or step, not both"),
        ({"window": 0}, "window", "1 <= window <="),
        ({"low": 0.9, "high": 0.8}, "high", "high >= low"),
    ],
)
def test_a_bad_claim_names_its_key_and_what_is_allowed(changes, key, allowed):
    from regbench.grid.spec import Claim
    from regbench.train.techniques.base import ParamError

    with pytest.raises(ParamError) as caught:
        Claim(article="A", claim="c", **changes).check()
    assert caught.value.key == key and allowed in caught.value.allowed


def test_a_claim_at_the_largest_epoch_or_step_is_allowed():
    from regbench.grid.budget import MAX_STEPS
    from regbench.grid.spec import Claim
    from regbench.train.techniques import MAX_EPOCHS

    Claim(article="A", claim="c", metric="val_accuracy", epoch=MAX_EPOCHS, window=MAX_EPOCHS).check()
    Claim(article="A", claim="c", metric="val_accuracy", step=MAX_STEPS).check()
    Claim(article="A", claim="c", low=0.5, high=0.5).check()

"""The seed shift (DML_SEED_OFFSET): read and refused as it should be, it reaches the generators of
a run and leaves the data alone, and every test that trains is marked so that CI reruns it shifted."""

import ast
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from dml_utils.config import ConfigError
from dml_utils.sampling import ClassBalancedBatchSampler, TupleBatchSampler
from dml_utils.seeds import SEED_OFFSET_ENV, run_generator, run_rng, seed_everything, seed_offset, shifted

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("raw,offset", [(None, 0), ("", 0), ("0", 0), ("3", 3), (" 12 ", 12)])
def test_the_offset_is_read_from_the_environment(monkeypatch, raw, offset):
    if raw is None:
        monkeypatch.delenv(SEED_OFFSET_ENV, raising=False)
    else:
        monkeypatch.setenv(SEED_OFFSET_ENV, raw)
    assert seed_offset() == offset and shifted(5) == 5 + offset


@pytest.mark.parametrize(
    "raw,match",
    [
        ("one", "is not an integer; set it to a whole number"),
        ("1.5", "is not an integer"),
        ("-2", "is negative"),
        (str(10**20), r"is above 2\*\*62"),
    ],
)
def test_a_bad_offset_is_refused_with_the_fix(monkeypatch, raw, match):
    monkeypatch.setenv(SEED_OFFSET_ENV, raw)
    with pytest.raises(ConfigError, match=match):
        seed_everything(0)


def _draws():
    return random.random(), np.random.rand(), float(torch.rand(1)), float(torch.rand(1, generator=run_generator(4)))


def test_a_shift_of_k_draws_what_seed_plus_k_draws(monkeypatch):
    monkeypatch.setenv(SEED_OFFSET_ENV, "0")
    seed_everything(3)
    plain = (*_draws()[:3], float(torch.rand(1, generator=run_generator(5))), run_rng(11).random())
    monkeypatch.setenv(SEED_OFFSET_ENV, "2")
    seed_everything(1)
    moved = (*_draws()[:3], float(torch.rand(1, generator=run_generator(3))), run_rng(9).random())
    assert moved == plain
    monkeypatch.setenv(SEED_OFFSET_ENV, "0")
    seed_everything(1)
    assert _draws()[:3] != moved[:3]


def test_the_samplers_draw_from_the_shifted_seed(monkeypatch):
    y = np.repeat(np.arange(10), 6)
    monkeypatch.setenv(SEED_OFFSET_ENV, "0")
    balanced = list(ClassBalancedBatchSampler(y, 4, 2, 3, seed=2))
    tuples = list(TupleBatchSampler(y, "triplet", 4, 3, seed=2))
    assert list(ClassBalancedBatchSampler(y, 4, 2, 3, seed=1)) != balanced
    monkeypatch.setenv(SEED_OFFSET_ENV, "1")
    assert list(ClassBalancedBatchSampler(y, 4, 2, 3, seed=1)) == balanced
    assert list(TupleBatchSampler(y, "triplet", 4, 3, seed=1)) == tuples


def test_data_made_from_fixed_seeds_does_not_move(monkeypatch):
    """Splits, the synthetic HPatches release and Monte-Carlo tables are the data, not a run's draw."""
    from dml_utils import hpatches as hp
    from dml_utils.data import subsample_per_class
    from dml_utils.sampling import no_valid_triplet_monte_carlo, uniform_sphere_points

    def data():
        img = hp.skimage_photo("camera", max_side=256)
        seq = hp.synthetic_sequence(img, "v_camera", "v", 12, seed=0)
        return (
            subsample_per_class(np.repeat(np.arange(5), 8), 3, seed=0).tolist(),
            seq.patches["e1"].tobytes(),
            no_valid_triplet_monte_carlo(8, 20, 500, seed=0),
            uniform_sphere_points(4, 3, seed=0).tobytes(),
        )

    monkeypatch.setenv(SEED_OFFSET_ENV, "0")
    plain = data()
    monkeypatch.setenv(SEED_OFFSET_ENV, "5")
    assert data() == plain


def test_a_shifted_run_is_recorded_in_its_results(monkeypatch, tmp_path):
    from dml_utils.results import write_results
    from dml_utils.studies import config

    monkeypatch.setenv(SEED_OFFSET_ENV, "2")
    cfg = config("03_yukawa_vs_contrastive_mnist", "smoke", root=tmp_path)
    import json

    assert json.loads(write_results(cfg, {}, []).read_text())["seed_offset"] == 2


# ---------------------------------------------------------------- every test that trains is marked
def _package_training_functions() -> set[str]:
    """Names of the package's functions that train: those that call the engine's ``fit``, and,
    transitively, those that call them (by bare name: conservative)."""
    calls: dict[str, set[str]] = {}
    for path in (ROOT / "dml_utils").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                calls.setdefault(node.name, set()).update(_called(node))
    training = {"fit"}
    while True:
        more = {name for name, called in calls.items() if called & training} - training
        if not more:
            return training - {"<lambda>"}
        training |= more


def _called(node: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "subprocess":
                continue  # subprocess.run is no training run
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call):
                continue  # a method of an object just built (scikit-learn's PCA().fit): never the engine's fit
            out.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "")
    return out


def _marked(fn: ast.FunctionDef, mark: str) -> bool:
    return any(mark in ast.unparse(d) for d in fn.decorator_list)


def _training_tests_unmarked() -> list[str]:
    training = _package_training_functions()
    outcomes = ast.parse((ROOT / "tests" / "training_outcomes.py").read_text())
    training |= {f.name for f in outcomes.body if isinstance(f, ast.FunctionDef) and _called(f) & training}
    unmarked = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.name == "test_regression.py":
            continue  # the regression part: fixed seeds against references (its trained numbers are held within a band)
        tree = ast.parse(path.read_text())
        module_marked = any(
            isinstance(n, ast.Assign) and "pytestmark" in ast.unparse(n) and "trains" in ast.unparse(n)
            for n in tree.body
        )
        funcs = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
        trains = set()  # helpers and fixtures of this module that train, transitively
        while True:
            more = {
                name
                for name, f in funcs.items()
                if (_called(f) & (training | trains)) or {a.arg for a in f.args.args} & trains
            } - trains
            if not more:
                break
            trains |= more
        for name, f in funcs.items():
            if name.startswith("test_") and name in trains and not (module_marked or _marked(f, "trains")):
                unmarked.append(f"{path.name}::{name}")
    return unmarked


def test_the_check_finds_the_package_training_functions():
    training = _package_training_functions()
    assert {"fit", "train_and_evaluate", "run_seed", "progressive_run", "collapse_map", "_train"} <= training
    assert "alternating_pairs" not in training and "seed_everything" not in training


def test_every_test_that_trains_is_marked_trains():
    """``.ci/run`` reruns the ``trains`` tests under seed shifts and another float path; a test that
    trains without the mark would be checked at one seed only."""
    assert _training_tests_unmarked() == [], "mark these @pytest.mark.trains (and run them shifted: see the README)"


def test_the_setup_cell_says_when_seeds_are_shifted(monkeypatch, tmp_path):
    from dml_utils.studies import config

    cfg = config("03_yukawa_vs_contrastive_mnist", "smoke", root=tmp_path, seeds=[0, 1])
    monkeypatch.delenv(SEED_OFFSET_ENV, raising=False)
    assert SEED_OFFSET_ENV not in cfg.outputs_note()
    monkeypatch.setenv(SEED_OFFSET_ENV, "1000")
    assert (
        "DML_SEED_OFFSET=1000: every run seed draws as seed + 1000 (seeds [0, 1] run as [1000, 1001])"
        in cfg.outputs_note()
    )
